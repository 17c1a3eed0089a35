"""The torch rows of `nndl bench`: the bare torch loop does the backend's arithmetic, and the CLI runs them."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch_impl
from conformance.backend.registry import BUILT_IN, backend_names
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.run.training import prepare_data
from conformance.spec.presets import load_preset
from conformance.speed import bench
from tests.cli_support import SMALL_BENCH
from torch_impl.baseline import bare_epoch

TRAIN_SIZE = 2000  # 200 steps an epoch at mini-batch 10


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
    data = prepare_data(torch_impl.asarray, split.images, split.labels, 10, training.dtype)
    start = initial_parameters(spec.network, seed=0)
    model = torch_impl.Model(spec, start)
    own = [tuple(torch.tensor(array, requires_grad=True) for array in pair) for pair in start]
    for epoch in (1, 2):  # 400 steps
        plan = epoch_plan(spec, TRAIN_SIZE, epoch, seed=0)
        model.train_epoch(data, plan, training.eta)
        order = torch.as_tensor(plan.order)
        bare_epoch(own, data.x, data.y, order, training.batch_size, training.eta, spec.network.cost, training.lmbda)
    for (w, b), (bare_w, bare_b) in zip(model.parameters(), own):
        np.testing.assert_allclose(bare_w.detach().numpy(), w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bare_b.detach().numpy(), b, rtol=0, atol=1e-12)
    assert not np.allclose(model.parameters()[0][0], start[0][0])  # it trained


def test_bench_times_the_torch_rows(nndl_bench, tmp_path: Path):
    path = tmp_path / "bench.json"
    code, out, err = nndl_bench(*SMALL_BENCH, "--backends", "numpy,torch", "--json", path)
    assert code == 0, err
    assert "torch backend / torch bare loop: " in out and "(target: at most 1.3x)" in out
    assert "reference / bare loop: " in out
    report = json.loads(path.read_text())
    assert report["device"] == "cpu"
    assert [row["name"] for row in report["rows"]] == [
        "numpy reference",
        "numpy bare loop",
        "torch backend",
        "torch bare loop",
    ]
    for row in report["rows"]:
        assert row["epoch_seconds"] > 0 and len(row["all_epoch_seconds"]) == 1
    torch_lines = [line for line in out.splitlines() if line.startswith("  parameters, reference vs torch")]
    assert len(torch_lines) == 2
    for line in torch_lines:  # after one step, rounding at most
        assert float(line.split("largest |difference| ")[1].split(" after one step")[0]) < 1e-12, line


def test_bench_torch_alone_compares_with_the_torch_backend(nndl_bench):
    code, out, err = nndl_bench(*SMALL_BENCH, "--backends", "torch")
    assert code == 0, err
    assert "numpy" not in out
    assert "parameters, torch backend vs torch bare loop: largest |difference| 0 after one step" in out


def test_a_backend_that_is_not_installed_is_skipped_with_a_line(nndl_bench, monkeypatch):
    monkeypatch.setitem(BUILT_IN, "torch", "no_such_package_for_nndl")
    code, out, err = nndl_bench(*SMALL_BENCH)
    assert code == 0, err
    assert "torch rows skipped: the torch backend is not installed" in err
    assert "torch backend" not in out and "numpy bare loop" in out


@pytest.mark.parametrize("names", ["numpy,mxnet", "tensorflow", ","])
def test_bench_refuses_unknown_backends_in_one_line(nndl_bench, monkeypatch, names):
    monkeypatch.setattr(bench, "run_bench", lambda *args, **kwargs: pytest.fail("bench ran"))
    code, _, err = nndl_bench("--preset", "ch1-sigmoid-30", "--backends", names)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nndl: error: --backends"), err
    assert f"choose from: {', '.join(backend_names())}" in lines[0]
