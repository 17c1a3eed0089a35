"""The PyTorch backend (torch_impl) as a user meets it: through `nndl --backend torch` and its Model.

Gradient and trajectory agreement with the reference belongs to the conformance engine; these
tests cover what lies around it: checkpoints that cross between the backends, devices that are
not there, a torch that is not installed, `--rng native`, divergence, dtypes, the last short
mini-batch, determinism, and every training option of the command line.
"""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import reference
import torch_impl
from conformance import cli
from conformance.checkpoint import load_checkpoint
from conformance.errors import DivergenceError
from conformance.presets import load_preset
from conformance.spec import Spec, load_spec
from conformance.streams import EpochPlan, epoch_plan, initial_parameters
from conformance.training import train
from reference.baseline import per_example_epoch
from tests.cli_support import (
    DIVERGING_SPEC,
    Result,
    assert_one_line_error,
    assert_same_params,
    forbid_training,
    params_differ,
    read_json,
)
from tests.nets import tiny_spec

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")

PRESET = "ch3-xent-30"  # [784, 30, 10], cross-entropy: learns something in a few hundred steps
TRAINED = "ch3-l2-30"  # the same with L2, so that evaluation's cost has a regulariser's term
SMALL = ("--preset", PRESET, "--train-size", "500", "--epochs", "2", "--quiet")
PRECIOUS = "the user's own file"
EVALUATE_LINE = re.compile(r"^(validation|test)\s+(\d+) / (\d+)\s+\(([\d.]+)%\)\s+cost (\S+)$")


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Torch's intra-op threads spin while they wait: on 2 cores shared with another busy process,
    a 784-30-10 epoch took 40 to 90 times longer with 2 threads than with 1. These nets are too
    small to gain from a second thread, so the tests run on one and stay fast on a loaded machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def cli_run(mnist_path, *args) -> None:
    """`nndl train ...` for module fixtures, which cannot use capsys."""
    assert cli.main(["train", *map(str, args), "--data", str(mnist_path)]) == 0


def correct_counts(run: dict) -> list[tuple[int, int]]:
    return [(epoch["validation_correct"], epoch["test_correct"]) for epoch in run["epochs"]]


def evaluated(result: Result) -> dict:
    """`nndl evaluate`'s lines as {split: (correct, total, cost)}."""
    assert result.code == 0, result.err
    figures = {}
    for line in result.out.splitlines():
        match = EVALUATE_LINE.match(line)
        if match:
            figures[match[1]] = (int(match[2]), int(match[3]), float(match[5]))
    assert set(figures) == {"validation", "test"}, result.out
    return figures


def splits(mnist, train_size):
    return {"training": mnist.training.first(train_size), "validation": mnist.validation, "test": mnist.test}


def existing(path: Path) -> Path:
    path.write_text(PRECIOUS)
    return path


def trained_with(backend, seed, tmp_path_factory, mnist_path) -> dict:
    """300 SGD steps of ch3-l2-30 (1,000 images, 3 epochs) with one backend: its .npz and .json."""
    folder = tmp_path_factory.mktemp(f"{backend}-trained")
    outputs = {"save": folder / f"{backend}.npz", "json": folder / f"{backend}.json"}
    cli_run(
        mnist_path,
        *("--backend", backend, "--preset", TRAINED, "--train-size", "1000", "--epochs", "3", "--seed", seed),
        *("--quiet", "--save", outputs["save"], "--json", outputs["json"]),
    )
    return outputs


@pytest.fixture(scope="module")
def torch_trained(tmp_path_factory, mnist_path, quick_mnist):
    return trained_with("torch", 3, tmp_path_factory, mnist_path)


@pytest.fixture(scope="module")
def numpy_trained(tmp_path_factory, mnist_path, quick_mnist):
    return trained_with("numpy", 5, tmp_path_factory, mnist_path)


# -- 1. checkpoints cross the border ----------------------------------------------------------


@pytest.mark.parametrize("trained_by", ["torch", "numpy"])
def test_a_checkpoint_evaluates_the_same_in_both_backends(nndl, request, trained_by):
    outputs = request.getfixturevalue(f"{trained_by}_trained")
    checkpoint = load_checkpoint(outputs["save"])
    assert checkpoint.metadata["backend"] == trained_by
    assert checkpoint.metadata["epochs_trained"] == 3
    assert all(w.dtype == np.float64 and b.dtype == np.float64 for w, b in checkpoint.params)

    by_numpy = evaluated(nndl("evaluate", outputs["save"], "--backend", "numpy"))
    by_torch = evaluated(nndl("evaluate", outputs["save"], "--backend", "torch"))
    last_epoch = read_json(outputs["json"])["epochs"][-1]
    for name in ("validation", "test"):
        correct, total, cost = by_torch[name]
        assert correct == by_numpy[name][0] == last_epoch[f"{name}_correct"]  # what training itself measured
        assert total == 10_000 and correct > 6_000  # 300 steps learn well past chance
        assert cost == pytest.approx(by_numpy[name][2], abs=1.5e-4)
        assert cost == pytest.approx(last_epoch[f"{name}_cost"], abs=1e-4)


def test_the_books_json_saved_by_torch_loads_and_evaluates(nndl, tmp_path, torch_trained):
    """The torch run again with the same seed, saved as network2 JSON: the same parameters, the same figures."""
    book = tmp_path / "book.json"
    args = ("--preset", TRAINED, "--train-size", "1000", "--epochs", "3", "--seed", "3", "--quiet")
    assert nndl("train", "--backend", "torch", *args, "--save", book).code == 0
    tree = json.loads(book.read_text())
    assert tree["sizes"] == [784, 30, 10] and tree["cost"] == "CrossEntropyCost"
    checkpoint = load_checkpoint(book)
    assert checkpoint.spec is None
    assert_same_params(checkpoint.params, load_checkpoint(torch_trained["save"]).params)

    from_npz = nndl("evaluate", torch_trained["save"], "--backend", "torch")
    for backend in ("torch", "numpy"):
        from_json = nndl("evaluate", book, "--preset", TRAINED, "--backend", backend)
        assert evaluated(from_json) == evaluated(from_npz)


# -- 2. checkpoints that do not fit -----------------------------------------------------------


@pytest.fixture
def transposed(tmp_path, torch_trained) -> Path:
    """The torch checkpoint with W0 stored as (n_in, n_out), as a framework with x W layers would."""
    with np.load(torch_trained["save"]) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["W0"] = arrays["W0"].T.copy()
    path = tmp_path / "transposed.npz"
    np.savez(path, **arrays)
    return path


def test_train_from_a_checkpoint_of_another_network_names_the_shapes(nndl, tmp_path, monkeypatch, torch_trained):
    outputs = [existing(tmp_path / "out.npz"), existing(tmp_path / "out.json")]
    forbid_training(monkeypatch)
    args = ("--backend", "torch", "--load", torch_trained["save"], "--preset", "ch1-sigmoid-100", "--quiet")
    result = nndl("train", *args, "--save", outputs[0], "--json", outputs[1], "--overwrite")
    assert_one_line_error(result, str(torch_trained["save"]), "layer 0 W", "(30, 784)", "(100, 784)")
    assert all(path.read_text() == PRECIOUS for path in outputs)


def test_a_checkpoint_with_a_transposed_weight_is_refused(nndl, tmp_path, monkeypatch, transposed):
    saved = existing(tmp_path / "out.npz")
    forbid_training(monkeypatch)
    fragments = (str(transposed), "layer 0 W has shape (784, 30)", "the network needs (30, 784)")
    assert_one_line_error(nndl("evaluate", transposed, "--backend", "torch"), *fragments)
    result = nndl("train", "--backend", "torch", "--load", transposed, "--quiet", "--save", saved, "--overwrite")
    assert_one_line_error(result, *fragments)
    assert saved.read_text() == PRECIOUS


def test_evaluate_the_books_json_with_the_wrong_network(nndl, tmp_path, monkeypatch):
    book = tmp_path / "book.json"
    assert nndl("train", "--backend", "torch", *SMALL, "--epochs", "1", "--save", book).code == 0
    forbid_training(monkeypatch)
    result = nndl("evaluate", book, "--preset", "ch5-depth-2", "--backend", "torch")
    assert_one_line_error(result, str(book), "has 2 layers, but the network has 3")


# -- 3. devices that are not there ------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_device_cuda_without_cuda(nndl, tmp_path, monkeypatch, torch_trained, command):
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    if command == "train":
        result = nndl("train", "--backend", "torch", "--device", "cuda", *SMALL, "--save", saved)
    else:
        result = nndl("evaluate", torch_trained["save"], "--backend", "torch", "--device", "cuda")
    assert_one_line_error(result, "--device cuda", "no CUDA device", "use --device cpu")
    assert not saved.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_rng_native_on_cuda_without_cuda(nndl, monkeypatch):
    forbid_training(monkeypatch)
    result = nndl("train", "--backend", "torch", "--device", "cuda", "--rng", "native", *SMALL)
    assert_one_line_error(result, "--device cuda", "use --device cpu")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_device_mps_without_mps(nndl, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    result = nndl("train", "--backend", "torch", "--device", "mps", *SMALL, "--save", saved)
    assert_one_line_error(result, "--device mps", "no Apple MPS device", "use --device cpu")
    assert not saved.exists()


@pytest.mark.parametrize("device", ["cuda", "mps"])
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_numpy_runs_on_the_cpu_only(nndl, monkeypatch, torch_trained, command, device):
    forbid_training(monkeypatch)
    if command == "train":
        result = nndl("train", "--backend", "numpy", "--device", device, *SMALL)
    else:
        result = nndl("evaluate", torch_trained["save"], "--backend", "numpy", "--device", device)
    assert_one_line_error(result, f"--device {device}", "CPU only", "--backend torch")


# -- 4. torch not installed -------------------------------------------------------------------


def block_torch(monkeypatch) -> None:
    """Make `import torch` fail as it does where torch is not installed, and torch_impl be imported afresh."""
    monkeypatch.setitem(sys.modules, "torch", None)
    for name in [name for name in sys.modules if name == "torch_impl" or name.startswith("torch_impl.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError):
        import torch_impl  # noqa: F401


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_the_torch_backend_without_torch_says_what_to_install(nndl, tmp_path, monkeypatch, numpy_trained, command):
    monkeypatch.chdir(tmp_path)
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    if command == "train":
        args = ("train", "--backend", "torch", *SMALL, "--save", saved)
    else:
        args = ("evaluate", numpy_trained["save"], "--backend", "torch")
    block_torch(monkeypatch)
    assert_one_line_error(nndl(*args), "the torch backend is not installed", "pip install 'nndl[torch]'")
    assert not saved.exists()


def test_the_numpy_backend_needs_no_torch(nndl, tmp_path, monkeypatch):
    block_torch(monkeypatch)
    result = nndl("train", "--backend", "numpy", *SMALL, "--epochs", "1", "--json", tmp_path / "run.json")
    assert result.code == 0, result.err
    assert read_json(tmp_path / "run.json")["epochs"][0]["validation_correct"] > 3_000


# -- 5. --rng native --------------------------------------------------------------------------


def dropout_spec_file(nndl, folder: Path, dropout: float) -> Path:
    """`nndl presets --show ch3-xent-30`, edited: default init, and dropout on the output layer's input."""
    shown = nndl("presets", "--show", PRESET)
    assert shown.code == 0
    output_layer = 'size = 10, activation = "sigmoid", dropout = 0.0'
    assert output_layer in shown.out and 'init = "large"' in shown.out
    text = shown.out.replace(output_layer, output_layer.replace("0.0", repr(dropout)))
    path = folder / f"dropout-{dropout}.toml"
    path.write_text(text.replace('init = "large"', 'init = "default"'))
    spec = load_spec(path)
    assert [layer.dropout for layer in spec.network.layers] == [0.0, dropout]
    return path


def train_small(nndl, folder: Path, name: str, *args) -> tuple[dict, list]:
    """A small torch run; its JSON and its saved parameters."""
    json_path, saved = folder / f"{name}.json", folder / f"{name}.npz"
    small = ("--backend", "torch", "--train-size", "500", "--epochs", "2", "--quiet")
    result = nndl("train", *small, *args, "--json", json_path, "--save", saved)
    assert result.code == 0, result.err
    return read_json(json_path), load_checkpoint(saved).params


def test_rng_native_is_reproducible_and_its_own(nndl, tmp_path):
    runs = {
        name: train_small(nndl, tmp_path, name, "--preset", PRESET, "--seed", seed, "--rng", rng)
        for name, seed, rng in [
            ("a", 1, "native"),
            ("again", 1, "native"),
            ("other", 2, "native"),
            ("shared", 1, "shared"),
        ]
    }
    (run, params), (run_again, params_again) = runs["a"], runs["again"]
    assert run["rng"] == "native" and runs["shared"][0]["rng"] == "shared"
    assert correct_counts(run) == correct_counts(run_again)
    assert_same_params(params, params_again)
    assert all(validation > 3_000 for validation, _ in correct_counts(run))  # it learns
    for name in ("other", "shared"):
        assert correct_counts(runs[name][0]) != correct_counts(run)
        assert params_differ(runs[name][1], params)


def test_native_initial_parameters_follow_the_init():
    """Native draws keep the shared streams' scales: N(0, 1) biases, N(0, 1/n_in) weights for `default`."""
    spec = load_preset("ch5-depth-2")  # default init, [784, 30, 30, 10]
    native = torch_impl.NativeStreams("cpu")
    params = native.initial_parameters(spec.network, seed=0)
    assert [(w.shape, b.shape) for w, b in params] == list(spec.network.parameter_shapes)
    assert all(w.dtype == np.float64 and b.dtype == np.float64 for w, b in params)
    assert np.std(params[0][0]) * np.sqrt(784) == pytest.approx(1.0, abs=0.02)
    assert np.std(np.concatenate([b for _, b in params])) == pytest.approx(1.0, abs=0.25)  # only 70 biases
    assert_same_params(native.initial_parameters(spec.network, seed=0), params)
    assert params_differ(native.initial_parameters(spec.network, seed=1), params)
    plan = native.epoch_plan(spec.with_changes("training", shuffle=False), 50, epoch=1, seed=0)
    assert torch.equal(plan.order.cpu(), torch.arange(50))


def test_rng_native_with_dropout(nndl, tmp_path):
    with_dropout = dropout_spec_file(nndl, tmp_path, 0.5)
    without = dropout_spec_file(nndl, tmp_path, 0.0)
    run, params = train_small(nndl, tmp_path, "a", "--spec", with_dropout, "--seed", "1", "--rng", "native")
    run_again, params_again = train_small(nndl, tmp_path, "b", "--spec", with_dropout, "--seed", "1", "--rng", "native")
    _, params_without = train_small(nndl, tmp_path, "c", "--spec", without, "--seed", "1", "--rng", "native")
    assert run["spec"]["network"]["layers"][1]["dropout"] == 0.5
    assert correct_counts(run) == correct_counts(run_again)
    assert_same_params(params, params_again)
    assert params_differ(params, params_without)  # the masks were applied
    assert all(validation > 3_000 for validation, _ in correct_counts(run))
    # inference scales W x by 1 - p in both backends: the checkpoint evaluates alike, as in training
    for backend in ("torch", "numpy"):
        figures = evaluated(nndl("evaluate", tmp_path / "a.npz", "--backend", backend))
        assert (figures["validation"][0], figures["test"][0]) == correct_counts(run)[-1]


# -- 6. divergence ----------------------------------------------------------------------------


@pytest.mark.parametrize("epoch", [1, 3])
def test_divergence_names_the_same_epoch_and_step_as_the_reference(epoch):
    spec = tiny_spec(hidden=("linear", "linear"), cost="log_likelihood", eta=100.0, init="large", sizes=[6, 20, 20, 4])
    rng = np.random.default_rng(0)
    images, labels = rng.random((200, 6)) * 50, rng.integers(0, 4, 200)
    plan = epoch_plan(spec, 200, epoch=epoch, seed=0)
    raised = {}
    for backend in (reference, torch_impl):
        data_set = backend.prepare_data(images, labels, 4, "float64")
        with pytest.raises(DivergenceError) as error:
            backend.Model(spec, initial_parameters(spec.network, seed=0)).train_epoch(data_set, plan, eta=100.0)
        raised[backend.__name__] = error.value
    torch_error, reference_error = raised["torch_impl"], raised["reference"]
    assert (torch_error.epoch, torch_error.step) == (reference_error.epoch, reference_error.step)
    assert torch_error.epoch == epoch
    assert 1 < torch_error.step < 20  # found by the replay, not the epoch's last step by default
    assert str(torch_error) == str(reference_error)


def test_divergence_from_the_command_line_writes_nothing(nndl, tmp_path):
    spec_file = tmp_path / "diverges.toml"
    spec_file.write_text(DIVERGING_SPEC)
    outputs = [tmp_path / "out.npz", tmp_path / "out.json"]
    steps = {}
    for backend in ("torch", "numpy"):
        args = ("--backend", backend, "--spec", spec_file, "--train-size", "1000", "--quiet")
        result = nndl("train", *args, "--save", outputs[0], "--json", outputs[1])
        line = assert_one_line_error(result, "diverged", "epoch 1, step", "--eta 1e+199")
        steps[backend] = re.search(r"step (\d+)", line)[1]
        assert not any(path.exists() for path in outputs)
    assert steps["torch"] == steps["numpy"]


# -- 7. dtypes --------------------------------------------------------------------------------


def test_float32_and_float64_stay_what_the_spec_says(mnist):
    models = {}
    for dtype, torch_dtype in (("float32", torch.float32), ("float64", torch.float64)):
        spec = load_preset(PRESET).with_changes("training", epochs=1, dtype=dtype)
        history, model = train(torch_impl, spec, splits(mnist, 500), seed=0)
        assert all(p.dtype == torch_dtype for p in model.network.parameters())
        assert all(w.dtype == np.dtype(dtype) and b.dtype == np.dtype(dtype) for w, b in model.parameters())
        prepared = torch_impl.prepare_data(mnist.validation.images[:5], mnist.validation.labels[:5], 10, dtype)
        assert prepared.x.dtype == prepared.y.dtype == torch_dtype
        assert np.isfinite(history.records[0].training_cost)
        assert history.records[0].validation_correct > 3_000
        models[dtype] = model
    for (w32, b32), (w64, b64) in zip(models["float32"].parameters(), models["float64"].parameters()):
        np.testing.assert_allclose(w32, w64, atol=1e-3)
        np.testing.assert_allclose(b32, b64, atol=1e-3)


# -- 8. the last, shorter mini-batch ----------------------------------------------------------


def test_a_last_shorter_batch_divides_by_its_own_size():
    """25 examples in batches of 10: the third step averages over 5, as the book's per-example algorithm does."""
    spec = tiny_spec(regularizer="l2", lmbda=1.0, dropout=0.2)
    rng = np.random.default_rng(0)
    images, labels = rng.random((25, 6)), rng.integers(0, 4, 25)
    plan = epoch_plan(spec, 25, epoch=1, seed=0)
    model = torch_impl.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(torch_impl.prepare_data(images, labels, 4, "float64"), plan, eta=0.5)
    slow = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=0)]
    data_set = reference.prepare_data(images, labels, 4, "float64")
    per_example_epoch(spec, slow, data_set.x, data_set.y, plan, eta=0.5)
    for (w, b), (slow_w, slow_b) in zip(model.parameters(), slow):
        np.testing.assert_allclose(w, slow_w, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, slow_b, rtol=1e-12, atol=1e-14)
    # the last step moves the parameters by far more than that tolerance, so halving it (dividing
    # its sum by 10, the batch size, instead of by 5) could not pass
    two_steps = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=0)]
    first_20 = EpochPlan(epoch=1, order=plan.order[:20], masks=[None if m is None else m[:20] for m in plan.masks])
    per_example_epoch(spec, two_steps, data_set.x, data_set.y, first_20, eta=0.5)
    assert max(np.abs(a - b).max() for layer, other in zip(slow, two_steps) for a, b in zip(layer, other)) > 1e-2


# -- 9. determinism ---------------------------------------------------------------------------


def test_the_same_seed_gives_bitwise_the_same_torch_run(mnist):
    spec = load_preset("ch3-l2-30").with_changes("training", epochs=2)
    (history_a, model_a), (history_b, model_b) = (train(torch_impl, spec, splits(mnist, 1000), seed=7) for _ in "ab")
    assert [r.training_cost for r in history_a.records] == [r.training_cost for r in history_b.records]
    assert [r.test_correct for r in history_a.records] == [r.test_correct for r in history_b.records]
    assert_same_params(model_a.parameters(), model_b.parameters())
    other, model_other = train(torch_impl, spec, splits(mnist, 1000), seed=8)
    assert [r.training_cost for r in other.records] != [r.training_cost for r in history_a.records]
    assert params_differ(model_other.parameters(), model_a.parameters())


# -- 10. every training option of the reference -----------------------------------------------


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, mnist_path, quick_mnist):
    """SMALL with --backend torch, seed 4, and no other option: what each option must change."""
    saved = tmp_path_factory.mktemp("baseline") / "baseline.npz"
    cli_run(mnist_path, "--backend", "torch", *SMALL, "--seed", "4", "--save", saved)
    return load_checkpoint(saved).params


def sum_abs(params):
    return sum(float(np.abs(w).sum()) for w, _ in params)


def sum_squares(params):
    return sum(float((w.astype(np.float64) ** 2).sum()) for w, _ in params)


@pytest.mark.parametrize(
    ("options", "changes"),
    [
        (("--regularizer", "l1", "--lmbda", "5"), {"regularizer": "l1", "lmbda": 5.0}),
        (("--lmbda", "5"), {"regularizer": "l2", "lmbda": 5.0}),
        (("--no-shuffle",), {"shuffle": False}),
        (("--batch-size", "25"), {"batch_size": 25}),
        (("--dtype", "float32"), {"dtype": "float32"}),
        (("--eta", "0.1"), {"eta": 0.1}),
        (("--epochs", "1"), {"epochs": 1}),
    ],
    ids=["l1", "l2", "no-shuffle", "batch-size", "float32", "eta", "epochs"],
)
def test_every_training_option_reaches_torch(nndl, tmp_path, mnist, baseline, options, changes):
    run, params = train_small(nndl, tmp_path, "run", "--preset", PRESET, "--seed", "4", *options)
    expected = load_preset(PRESET).with_changes("training", **{"epochs": 2, **changes})
    expected = expected.with_changes("data", train_size=500)
    assert Spec.from_dict(run["spec"]) == expected
    assert run["backend"] == "torch"
    assert [epoch["epoch"] for epoch in run["epochs"]] == list(range(1, expected.training.epochs + 1))
    # the command line ran exactly the spec it reports ...
    _, model = train(torch_impl, expected, splits(mnist, 500), seed=4)
    assert_same_params(params, model.parameters())
    # ... and the option changed what torch did
    assert params_differ(params, baseline)
    if "dtype" in changes:
        assert all(w.dtype == np.float32 and b.dtype == np.float32 for w, b in params)
    if changes.get("regularizer") == "l1":
        assert sum_abs(params) < 0.95 * sum_abs(baseline)
    if changes.get("regularizer") == "l2":
        assert sum_squares(params) < 0.95 * sum_squares(baseline)


def test_no_shuffle_visits_the_examples_in_order(nndl, tmp_path, mnist):
    """--no-shuffle gives the plan 0, 1, 2, ...: a hand-made plan in that order ends in the same parameters."""
    _, params = train_small(nndl, tmp_path, "run", "--preset", PRESET, "--seed", "4", "--no-shuffle")
    spec = load_preset(PRESET)
    model = torch_impl.Model(spec, initial_parameters(spec.network, seed=4))
    images, labels = mnist.training.images[:500], mnist.training.labels[:500]
    data_set = torch_impl.prepare_data(images, labels, 10, "float64")
    for epoch in (1, 2):
        model.train_epoch(data_set, EpochPlan(epoch=epoch, order=np.arange(500), masks=[None, None]), spec.training.eta)
    assert_same_params(params, model.parameters())


def test_two_epochs_then_one_more_from_the_checkpoint_equal_three_epochs(nndl, tmp_path):
    first, resumed, straight = tmp_path / "first.npz", tmp_path / "resumed.npz", tmp_path / "straight.npz"
    common = ("--backend", "torch", "--seed", "7", "--quiet")
    assert nndl("train", *common, "--preset", PRESET, "--train-size", "500", "--epochs", "2", "--save", first).code == 0
    result = nndl("train", *common, "--load", first, "--epochs", "1", "--save", resumed, "--json", tmp_path / "r.json")
    assert result.code == 0, result.err
    assert [epoch["epoch"] for epoch in read_json(tmp_path / "r.json")["epochs"]] == [3]
    assert "epoch   3/3" in result.out
    assert (
        nndl("train", *common, "--preset", PRESET, "--train-size", "500", "--epochs", "3", "--save", straight).code == 0
    )
    assert_same_params(load_checkpoint(resumed).params, load_checkpoint(straight).params)
    assert load_checkpoint(resumed).metadata == {
        "backend": "torch",
        "device": "cpu",
        "seed": 7,
        "rng": "shared",
        "epochs_trained": 3,
    }
    assert params_differ(load_checkpoint(first).params, load_checkpoint(straight).params)
