"""Tests of conformance.run.checkpoint: both formats round trip, bad files are refused with a
CheckpointError (never a zipfile or NumPy traceback), and writes are atomic and never replace a
file the user already has unless asked to."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from conformance.data.streams import initial_parameters
from conformance.run.checkpoint import check_parameters, load_checkpoint, save_checkpoint
from conformance.spec.errors import CheckpointError, OutputExistsError
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec

PRECIOUS = b"the user's own file, not to be touched"


def spec_with_layers(preset: str, cost: str, *activations: str) -> Spec:
    """The preset's spec with its layers' activations (and the cost) replaced."""
    spec = load_preset(preset)
    layers = [
        {"size": layer.size, "activation": activation} for layer, activation in zip(spec.network.layers, activations)
    ]
    return spec.with_changes("network", layers=layers, cost=cost)


def params_of(spec: Spec, seed: int = 0):
    return initial_parameters(spec.network, seed)


def assert_bitwise_equal(params_a, params_b) -> None:
    assert len(params_a) == len(params_b)
    for layer_a, layer_b in zip(params_a, params_b):
        for a, b in zip(layer_a, layer_b):
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes()


def files_in(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def existing_file(directory: Path, name: str) -> Path:
    path = directory / name
    path.write_bytes(PRECIOUS)
    return path


@pytest.fixture
def spec() -> Spec:
    return load_preset("ch5-depth-2")  # three layers: [784, 30, 30, 10]


@pytest.fixture
def saved_npz(tmp_path, spec) -> Path:
    return save_checkpoint(tmp_path / "net.npz", spec, params_of(spec))


# -- .npz -------------------------------------------------------------------------------------


def test_npz_round_trip_is_bitwise(tmp_path, spec):
    params = params_of(spec, seed=3)
    metadata = {"backend": "numpy", "seed": 3, "epochs_trained": 7, "note": "café"}
    path = save_checkpoint(tmp_path / "net.npz", spec, params, metadata)
    checkpoint = load_checkpoint(path)
    assert_bitwise_equal(checkpoint.params, params)
    assert checkpoint.spec == spec
    assert checkpoint.metadata == metadata


def test_npz_keeps_float32(tmp_path, spec):
    params = [(w.astype(np.float32), b.astype(np.float32)) for w, b in params_of(spec)]
    checkpoint = load_checkpoint(save_checkpoint(tmp_path / "net.npz", spec, params))
    assert_bitwise_equal(checkpoint.params, params)


# -- the book's network2 .json ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "cost_name"),
    [("ch1-sigmoid-30", "QuadraticCost"), ("ch3-xent-30", "CrossEntropyCost")],
)
def test_network2_json_round_trip(tmp_path, preset, cost_name):
    spec = load_preset(preset)
    params = params_of(spec, seed=5)
    path = save_checkpoint(tmp_path / "net.json", spec, params)

    tree = json.loads(path.read_text())
    assert set(tree) == {"sizes", "weights", "biases", "cost"}
    assert tree["sizes"] == [784, 30, 10]
    assert tree["cost"] == cost_name
    assert [len(w) for w in tree["weights"]] == [30, 10] and len(tree["weights"][0][0]) == 784
    assert [len(b) for b in tree["biases"]] == [30, 10]
    assert all(isinstance(row, list) and len(row) == 1 for b in tree["biases"] for row in b)

    checkpoint = load_checkpoint(path)
    assert_bitwise_equal(checkpoint.params, params)
    assert checkpoint.spec is None
    assert checkpoint.metadata == {"sizes": [784, 30, 10], "cost": spec.network.cost}


@pytest.mark.parametrize(
    ("cost", "activations"),
    [("quadratic", ("tanh", "sigmoid")), ("log_likelihood", ("sigmoid", "softmax"))],
)
def test_network2_json_holds_only_sigmoid_nets(tmp_path, cost, activations):
    spec = spec_with_layers("ch1-sigmoid-30", cost, *activations)
    with pytest.raises(CheckpointError, match="save as .npz instead"):
        save_checkpoint(tmp_path / "net.json", spec, params_of(spec))
    assert files_in(tmp_path) == []


def test_network2_json_whose_sizes_disagree_with_its_arrays(tmp_path):
    spec = load_preset("ch1-sigmoid-30")
    path = save_checkpoint(tmp_path / "net.json", spec, params_of(spec))
    tree = json.loads(path.read_text())
    for sizes, problem in (
        ([784, 31, 10], r"layer 0 has W \(30, 784\) and b \(30,\); sizes \[784, 31, 10\]"),
        ([784, 30, 30, 10], "need 3 weight"),
    ):
        path.write_text(json.dumps({**tree, "sizes": sizes}))
        with pytest.raises(CheckpointError, match=problem):
            load_checkpoint(path)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[1, 2]",
        json.dumps({"sizes": [784, 30, 10]}),
        json.dumps({"sizes": 5, "weights": [], "biases": [], "cost": "QuadraticCost"}),
    ],
    ids=["invalid", "a list", "no arrays", "sizes a number"],
)
def test_json_that_is_not_network2(tmp_path, content):
    path = tmp_path / "net.json"
    path.write_text(content)
    with pytest.raises(CheckpointError, match="is not a network2 JSON file"):
        load_checkpoint(path)


# -- shapes and unreadable files --------------------------------------------------------------


def test_check_parameters_names_the_layer_and_both_shapes():
    params = params_of(load_preset("ch1-sigmoid-30"))
    network = load_preset("ch1-sigmoid-100").network
    with pytest.raises(
        CheckpointError, match=r"old\.npz: layer 0 W has shape \(30, 784\), the network needs \(100, 784\)"
    ):
        check_parameters(network, params, "old.npz")


def test_check_parameters_counts_the_layers(spec):
    params = params_of(load_preset("ch1-sigmoid-30"))
    with pytest.raises(CheckpointError, match=r"has 2 layers, but the network has 3 \(sizes \[784, 30, 30, 10\]\)"):
        check_parameters(spec.network, params, "old.npz")


def test_check_parameters_accepts_its_own_network(spec):
    check_parameters(spec.network, params_of(spec), "fresh")


def test_npz_whose_arrays_do_not_fit_its_spec(tmp_path, saved_npz):
    with np.load(saved_npz) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["b1"] = np.zeros(29)
    np.savez(saved_npz, **arrays)
    with pytest.raises(CheckpointError, match=r"layer 1 b has shape \(29,\), the network needs \(30,\)"):
        load_checkpoint(saved_npz)


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match="is not an nndl checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.999])
def test_truncated_npz_is_not_a_checkpoint(saved_npz, keep):
    content = saved_npz.read_bytes()
    saved_npz.write_bytes(content[: int(len(content) * keep)])
    with pytest.raises(CheckpointError, match="is not an nndl checkpoint"):
        load_checkpoint(saved_npz)


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ({"format": "someone-elses-checkpoint", "version": 1}, "format 'someone-elses-checkpoint'"),
        ({"format": "nndl-checkpoint", "version": 99}, "version 99"),
        ([1, 2], "not a JSON object"),
        ("{not json", "is not an nndl checkpoint"),
    ],
    ids=["other format", "other version", "not an object", "invalid"],
)
def test_npz_with_another_header(tmp_path, spec, header, problem):
    path = tmp_path / "other.npz"
    text = (
        header
        if isinstance(header, str)
        else json.dumps(header if isinstance(header, list) else {**header, "spec": spec.to_dict()})
    )
    np.savez(path, header=np.array(text), W0=np.zeros((30, 784)), b0=np.zeros(30))
    with pytest.raises(CheckpointError, match=problem):
        load_checkpoint(path)


def test_npz_without_a_header(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, W0=np.zeros((30, 784)))
    with pytest.raises(CheckpointError, match="is not an nndl checkpoint"):
        load_checkpoint(path)


def test_npz_with_an_invalid_spec(tmp_path, spec):
    path = tmp_path / "bad-spec.npz"
    tree = spec.to_dict()
    tree["training"]["eta"] = -1
    np.savez(path, header=np.array(json.dumps({"format": "nndl-checkpoint", "version": 1, "spec": tree})))
    with pytest.raises(CheckpointError, match=r"its spec is unreadable: .*training\.eta"):
        load_checkpoint(path)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.npz")


def test_unknown_extension(tmp_path, spec):
    with pytest.raises(CheckpointError, match=r"must end in \.npz .* or \.json"):
        save_checkpoint(tmp_path / "net.pt", spec, params_of(spec))
    assert files_in(tmp_path) == []
    path = existing_file(tmp_path, "net.pt")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)


# -- atomic writes that never overwrite unasked -----------------------------------------------


@pytest.mark.parametrize("name", ["net.npz", "net.json"])
def test_no_overwrite_without_asking(tmp_path, name):
    spec = load_preset("ch1-sigmoid-30")
    path = existing_file(tmp_path, name)
    with pytest.raises(OutputExistsError, match="already exists"):
        save_checkpoint(path, spec, params_of(spec))
    assert path.read_bytes() == PRECIOUS
    assert files_in(tmp_path) == [name]


@pytest.mark.parametrize("name", ["net.npz", "net.json"])
def test_overwrite_when_asked(tmp_path, name):
    spec = load_preset("ch1-sigmoid-30")
    params = params_of(spec, seed=9)
    path = existing_file(tmp_path, name)
    save_checkpoint(path, spec, params, overwrite=True)
    assert_bitwise_equal(load_checkpoint(path).params, params)
    assert files_in(tmp_path) == [name]


def _savez_that_fails_half_way(file, **arrays):
    file.write(b"PK\x03\x04 half a zip")
    raise RuntimeError("disk full")


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_writer_failing_half_way_leaves_no_trace(tmp_path, spec, monkeypatch, overwrite):
    monkeypatch.setattr(np, "savez", _savez_that_fails_half_way)
    old = existing_file(tmp_path, "old.npz")
    target = old if overwrite else tmp_path / "new.npz"
    with pytest.raises(RuntimeError, match="disk full"):
        save_checkpoint(target, spec, params_of(spec), overwrite=overwrite)
    assert files_in(tmp_path) == ["old.npz"]
    assert old.read_bytes() == PRECIOUS


def test_metadata_that_cannot_be_written_leaves_no_trace(tmp_path, spec):
    old = existing_file(tmp_path, "old.npz")
    with pytest.raises(TypeError):
        save_checkpoint(old, spec, params_of(spec), {"seed": object()}, overwrite=True)
    assert files_in(tmp_path) == ["old.npz"]
    assert old.read_bytes() == PRECIOUS


def test_params_that_do_not_fit_are_refused_before_writing(tmp_path, spec):
    old = existing_file(tmp_path, "old.npz")
    with pytest.raises(CheckpointError, match="the parameters to save: layer 1"):
        save_checkpoint(old, spec, params_of(spec)[:1] + params_of(spec)[:2], overwrite=True)
    assert old.read_bytes() == PRECIOUS


def test_a_saved_checkpoint_has_the_permissions_of_any_new_file(tmp_path):
    spec = load_preset("ch1-sigmoid-30")
    path = save_checkpoint(tmp_path / "net.npz", spec, initial_parameters(spec.network, seed=0))
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
