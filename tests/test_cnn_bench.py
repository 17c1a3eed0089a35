"""The bench for chapter 6's networks: each framework's bare CNN loop does the backend's arithmetic,
and `nndl bench` times them beside the backends with the issue's targets."""

import re

import numpy as np
import pytest

from conformance.data.mnist import SPLIT_SIZES
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.run.training import prepare_data
from tests.test_cnn import installed, small_cnn

BARE_LOOPS = ["numpy", "torch", "jax"]


def bare_run(backend_name, spec, params, x, y, plan):
    """One epoch of the backend's bare CNN loop from `params`, its parameters back as NumPy arrays."""
    backend = installed(backend_name)
    training = spec.training
    data = prepare_data(backend.asarray, x, y, 10, training.dtype)
    baseline = backend.baseline
    run_epoch, parameters = _bare_row(baseline.bench_rows(spec, _Split(x, y), "cpu")).start(params)
    run_epoch(plan)
    return [tuple(np.asarray(array) for array in pair) for pair in parameters()], data


class _Split:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)


def _bare_row(rows):
    return next(row for row in rows if row.name.endswith("bare loop"))


@pytest.mark.parametrize("backend_name", BARE_LOOPS)
@pytest.mark.parametrize(("ties", "activation"), [("all", "relu"), ("first", "sigmoid")])
def test_a_bare_cnn_loop_trains_as_the_reference_does(backend_name, ties, activation, mnist):
    """Float64, 6 steps on MNIST images, L2: the bare loop ends where the reference's Model does."""
    spec = small_cnn(ties=ties, activation=activation, init="default")
    x, y = mnist.training.images[:60], mnist.training.labels[:60]
    params = initial_parameters(spec.network, 3)
    plan = epoch_plan(spec, len(x), 1, 3)
    bare, _ = bare_run(backend_name, spec, params, x, y, plan)
    reference = installed("numpy")
    model = reference.Model(spec, params)
    model.train_epoch(prepare_data(reference.asarray, x, y, 10, "float64"), plan, spec.training.eta)
    moved = max(np.abs(w - w0).max() for (w, _), (w0, _) in zip(model.parameters(), params))
    assert moved > 1e-3  # the steps did something
    for (w, b), (bare_w, bare_b) in zip(model.parameters(), bare):
        np.testing.assert_allclose(bare_w, w, rtol=0, atol=1e-12)
        np.testing.assert_allclose(bare_b, b, rtol=0, atol=1e-12)


def test_the_bench_times_the_cnn_rows_scaled_to_the_whole_epoch(nndl_bench):
    code, out, err = nndl_bench("--preset", "ch6-conv2-relu", "--repeat", "1", "--train-size", "40")
    assert code == 0, err
    assert "per-example algorithm is written for dense layers only" in err
    assert f"{SPLIT_SIZES['training']:,} (s)" in out
    rows = re.findall(r"^  (numpy|torch|jax) (reference|backend|bare loop) +([\d.]+) +([\d.]+)", out, re.MULTILINE)
    scale = SPLIT_SIZES["training"] / 40
    for _, _, seconds, whole in rows:  # the seconds are printed to 0.0005, the scaled ones to 0.05
        assert float(whole) == pytest.approx(float(seconds) * scale, abs=0.0005 * scale + 0.05)
    names = {f"{backend} {kind}" for backend, kind, _, _ in rows}
    installed_rows = {"numpy reference", "numpy bare loop"}
    for framework in ("torch", "jax"):
        if f"{framework} backend" in out:
            installed_rows |= {f"{framework} backend", f"{framework} bare loop"}
    assert names == installed_rows
    for line in re.findall(r"parameters, reference vs .*", out):  # float32: one step agrees to rounding
        after_one_step = float(re.search(r"\|difference\| (\S+) after one step", line)[1])
        assert after_one_step < 1e-6, line
    if "torch backend" in names:
        assert re.search(r"numpy reference / torch backend: [\d.]+x \(target: at most 3x\)", out)
        assert re.search(r"torch backend / torch bare loop: [\d.]+x \(target: at most 1.3x\)", out)
    if {"torch bare loop", "jax backend"} <= names:
        assert re.search(r"jax backend / torch bare loop: [\d.]+x \(target: at most 1.3x\)", out)


def test_the_bare_cnn_loops_skip_what_they_do_not_compute(nndl_bench):
    code, _, err = nndl_bench(
        "--preset",
        "ch6-conv2-relu",
        "--backends",
        "numpy",
        "--repeat",
        "1",
        "--train-size",
        "20",
        "--regularizer",
        "l1",
    )
    assert code == 0, err
    assert "numpy bare loop skipped: the bare loops have no dropout and no L1" in err


def test_the_cnn_bench_on_cuda_without_a_gpu_is_one_line(nndl_bench):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, out, err = nndl_bench("--preset", "ch6-conv2-relu", "--device", "cuda", "--repeat", "1", "--train-size", "20")
    assert code != 0 and out == ""
    error_lines = [line for line in err.splitlines() if line.startswith("nndl: error:")]
    assert error_lines == [error_lines[0]] and "--device cuda" in error_lines[0] and "sees no CUDA device" in err
    assert "Traceback" not in err
