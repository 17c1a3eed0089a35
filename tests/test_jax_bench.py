"""The jax rows of `nndl bench`: the bare jit + scan loop does the backend's arithmetic, and the bench names the fastest."""

import json
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import jax_impl
from conformance.backend.contract import BACKEND_ROW, BARE_LOOP
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.run.training import prepare_data
from conformance.spec.presets import load_preset
from conformance.speed import bench
from jax_impl.baseline import bare_epoch
from tests.cli_support import SMALL_BENCH

TRAIN_SIZE = 2005  # 201 steps an epoch at mini-batch 10, the last one of 5 examples


@pytest.mark.parametrize(
    ("preset", "changes"),
    [("ch1-sigmoid-30", {}), ("ch3-xent-30", {"regularizer": "l2", "lmbda": 5.0})],
    ids=["quadratic", "cross-entropy with L2"],
)
def test_the_bare_loop_matches_the_backend(mnist, preset, changes):
    spec = load_preset(preset)
    if changes:
        spec = spec.with_changes("training", "the test", **changes)
    training = spec.training
    split = mnist.training.first(TRAIN_SIZE)
    data = prepare_data(jax_impl.asarray, split.images, split.labels, 10, training.dtype)
    start = initial_parameters(spec.network, seed=0)
    model = jax_impl.Model(spec, start)
    own = tuple((jax.numpy.asarray(w), jax.numpy.asarray(b)) for w, b in start)
    for epoch in (1, 2):  # 402 steps, two of them short
        plan = epoch_plan(spec, TRAIN_SIZE, epoch, seed=0)
        model.train_epoch(data, plan, training.eta)
        order = jax.numpy.asarray(plan.order)
        own = bare_epoch(
            own, data.x, data.y, order, training.batch_size, training.eta, spec.network.cost, training.lmbda
        )
    for (w, b), (bare_w, bare_b) in zip(model.parameters(), own):
        np.testing.assert_allclose(np.asarray(bare_w), w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(np.asarray(bare_b), b, rtol=0, atol=1e-12)
    assert not np.allclose(model.parameters()[0][0], start[0][0])  # it trained


def test_bench_times_the_jax_rows_and_names_the_fastest(nndl_bench, tmp_path: Path):
    path = tmp_path / "bench.json"
    code, out, err = nndl_bench(*SMALL_BENCH, "--backends", "numpy,jax", "--json", path)
    assert code == 0, err
    assert "jax backend / jax bare loop: " in out and "(target: at most 1.3x)" in out
    report = json.loads(path.read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert list(rows) == ["numpy reference", "numpy bare loop", "jax backend", "jax bare loop"]
    for name in ("jax backend", "jax bare loop"):
        assert rows[name]["compile_seconds"] >= 0
        assert f"{name}: compiling the epoch took " in out
    assert rows["numpy reference"]["compile_seconds"] is None
    jax_lines = [line for line in out.splitlines() if line.startswith("  parameters, reference vs jax")]
    assert len(jax_lines) == 2
    for line in jax_lines:  # after one step, rounding at most
        assert float(line.split("largest |difference| ")[1].split(" after one step")[0]) < 1e-12, line
    fastest = "numpy" if rows["numpy reference"]["epoch_seconds"] < rows["jax backend"]["epoch_seconds"] else "jax"
    last_line = out.strip().splitlines()[-1]
    assert last_line.startswith("fastest backend on this machine for ch1-sigmoid-30 at mini-batch 10, float64, cpu: ")
    assert f": {fastest}, " in last_line and report["fastest"] == last_line


def test_the_fastest_line_compares_backend_rows_not_baselines():
    spec = load_preset("ch1-sigmoid-30")

    def row(name, seconds, backend, kind):
        return bench.Row(name, seconds, [seconds], [], [], backend, kind=kind)

    rows = [
        row("numpy reference", 0.5, "numpy", BACKEND_ROW),
        row("numpy bare loop", 0.1, "numpy", BARE_LOOP),
        row("jax backend", 0.3, "jax", BACKEND_ROW),
    ]
    line = bench.fastest_line(spec, rows, "cpu")
    assert line.endswith(": jax, 0.300 s an epoch (against numpy 0.500 s)")
