"""Chapter 5's speed of learning: `nndl train --layer-speeds`, its plot, and its conformance check."""

import numpy as np
import pytest

import reference
from conformance.backend.registry import backend_names
from conformance.data.streams import initial_parameters
from conformance.run import layer_speeds
from conformance.spec.presets import load_preset
from conformance.suite import engine, matrix
from conformance.suite.trajectories import check_trajectory
from tests.cli_support import read_json

pytestmark = pytest.mark.usefixtures("quick_mnist")  # the session's MNIST, read once


def test_train_records_each_hidden_layers_speed_at_the_start_and_after_every_epoch(nndl, mnist, tmp_path):
    json_path, png = tmp_path / "run.json", tmp_path / "run.png"
    arguments = ("--preset", "ch5-depth-4", "--train-size", "1000", "--epochs", "2", "--quiet")
    result = nndl("train", *arguments, "--layer-speeds", "--json", json_path, "--plot", png)
    assert result.code == 0, result.err
    speeds = read_json(json_path)["layer_speeds"]
    assert speeds["epochs"] == [0, 1, 2] and len(speeds["hidden_layers"]) == 4
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    spec = load_preset("ch5-depth-4")  # at the start: the seed's initial parameters, measured by hand
    params = initial_parameters(spec.network, 0)
    first = mnist.training.first(1000)
    x, y = first.images.astype(np.float64), np.eye(10)[first.labels]
    grads = reference.network.gradients(
        reference.network.Network(spec.network), spec.training, params, x, y, [None] * 5, 1000
    )
    assert [layer[0] for layer in speeds["hidden_layers"]] == [float(np.linalg.norm(b)) for _, b in grads[:-1]]
    at_start = [layer[0] for layer in speeds["hidden_layers"]]
    assert at_start == sorted(at_start) and at_start[3] > 20 * at_start[0]  # slower toward the input


def test_a_run_without_the_option_records_no_speeds(nndl, tmp_path):
    path = tmp_path / "run.json"
    result = nndl("train", "--preset", "ch5-depth-1", "--train-size", "300", "--epochs", "1", "--quiet", "--json", path)
    assert result.code == 0 and "layer_speeds" not in read_json(path)


def test_the_backends_layer_speeds_agree_after_the_first_steps(splits):
    backends = engine.available_backends(backend_names(), log=lambda line: None)[0]
    if len(backends) < 2:
        pytest.skip("one backend installed: nothing to compare")
    case = next(case for case in matrix.TRAJECTORY_CASES if case.layer_speeds)
    assert case.preset == "ch5-depth-4"
    results = [r for r in check_trajectory(case, backends, splits, "cpu", 3, False) if r.check == "layer speeds"]
    assert len(results) == len(backends) * (len(backends) - 1) // 2
    for result in results:
        # measured: torch against numpy 1.1e-15 on this machine (numpy 2.4, torch 2.13, 2 threads), 0 for jax
        assert result.passed and result.value < 1e-14 and result.bound == 1e-12
        assert all(len(speeds) == 4 for speeds in result.detail["layer_speeds"].values())


def test_a_port_with_a_wrong_bp2_has_other_layer_speeds(splits):
    backends = engine.available_backends(["numpy", "tests.broken_bp2_backend"], log=lambda line: None)[0]
    case = matrix.TrajectoryCase("ch5-depth-4", layer_speeds=True)
    speeds = next(r for r in check_trajectory(case, backends, splits, "cpu", 1, False) if r.check == "layer speeds")
    assert not speeds.passed and speeds.value > 0.5  # layer 1: 0.0030 where the reference has 0.0017


@pytest.fixture(scope="module")
def splits(mnist):
    return {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}


def test_measure_gives_one_norm_per_hidden_layer(mnist):
    spec = load_preset("ch5-depth-2")
    model = reference.Model(spec, initial_parameters(spec.network, 0))
    speeds = layer_speeds.measure(model, spec, mnist.training.first(50), 50)
    assert len(speeds) == 2 and all(speed > 0 for speed in speeds)
