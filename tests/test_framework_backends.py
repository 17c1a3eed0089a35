"""What every framework backend (torch_impl, jax_impl) must do as a user meets it, each test run once
per backend: through `nndl --backend NAME` and through its Model.

Gradient and trajectory agreement over the whole matrix belongs to the conformance engine; these
tests cover what lies around it: checkpoints that cross between the backends, checkpoints that do
not fit, a framework that is not installed, `--rng native`, divergence, dtypes, the last short
mini-batch, determinism, and every training option of the command line. A backend whose framework
is not installed is skipped. What only one framework has (its devices, torch's threads, JAX's x64
mode and compiled epoch) is tested in test_torch_backend.py and test_jax_backend.py.
"""

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import reference
from conformance.data.streams import EpochPlan, epoch_plan, initial_parameters
from conformance.run.checkpoint import load_checkpoint, save_checkpoint
from conformance.run.training import prepare_data, train, train_epoch
from conformance.spec.errors import DivergenceError
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec
from conformance.suite.results import relative_difference
from reference.baseline import per_example_epoch
from tests.backend_support import (
    PRECIOUS,
    PRESET,
    SMALL,
    TRAINED,
    TRAINED_RUN,
    cli_run,
    correct_counts,
    dropout_spec_file,
    evaluated,
    existing,
    one_torch_thread,
    splits,
    train_small,
    trained_with,
)
from tests.cli_support import (
    DIVERGING_SPEC,
    assert_one_line_error,
    assert_same_params,
    forbid_training,
    params_differ,
    read_json,
)
from tests.nets import random_batch, tiny_spec

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")


@dataclass(frozen=True)
class Framework:
    """A framework backend, and how to look at its own arrays."""

    name: str  # what --backend calls it, and the module the framework itself is imported as
    backend: ModuleType  # torch_impl or jax_impl
    own_parameters: Callable  # Model -> the parameters as the framework holds them
    own_dtype: Callable  # "float32" -> the framework's dtype object

    def to_numpy(self, array) -> np.ndarray:
        return np.asarray(array.cpu() if self.name == "torch" else array)


@pytest.fixture(scope="module", params=["torch", "jax"])
def framework(request) -> Framework:
    """Each framework backend in turn; skipped where its framework is not installed."""
    if request.param == "torch":
        torch = pytest.importorskip("torch")
        import torch_impl

        with one_torch_thread():
            yield Framework("torch", torch_impl, lambda model: list(model.network.parameters()), torch_dtype(torch))
    else:
        jax = pytest.importorskip("jax")
        import jax_impl

        yield Framework("jax", jax_impl, lambda model: jax.tree.leaves(model.params), jax.numpy.dtype)


def torch_dtype(torch):
    return lambda name: getattr(torch, name)


@pytest.fixture(scope="module")
def framework_trained(framework, tmp_path_factory, mnist_path, quick_mnist):
    return trained_with(framework.name, 3, tmp_path_factory, mnist_path)


@pytest.fixture(scope="module")
def numpy_trained(tmp_path_factory, mnist_path, quick_mnist):
    return trained_with("numpy", 5, tmp_path_factory, mnist_path)


# -- 1. checkpoints cross the border ----------------------------------------------------------


@pytest.mark.parametrize("trained_by", ["framework", "numpy"])
def test_a_checkpoint_evaluates_the_same_in_both_backends(nndl, request, framework, trained_by):
    outputs = request.getfixturevalue(f"{trained_by}_trained")
    name = framework.name if trained_by == "framework" else "numpy"
    checkpoint = load_checkpoint(outputs["save"])
    assert checkpoint.metadata["backend"] == name
    assert checkpoint.metadata["epochs_trained"] == 2
    assert all(w.dtype == np.float64 and b.dtype == np.float64 for w, b in checkpoint.params)

    by_numpy = evaluated(nndl("evaluate", outputs["save"], "--backend", "numpy"))
    by_framework = evaluated(nndl("evaluate", outputs["save"], "--backend", framework.name))
    last_epoch = read_json(outputs["json"])["epochs"][-1]
    for split in ("validation", "test"):
        correct, total, cost = by_framework[split]
        assert correct == by_numpy[split][0] == last_epoch[f"{split}_correct"]  # what training itself measured
        assert total == 10_000 and correct > 5_000  # 100 steps learn well past chance
        assert cost == pytest.approx(by_numpy[split][2], abs=1.5e-4)
        assert cost == pytest.approx(last_epoch[f"{split}_cost"], abs=1e-4)


def test_the_books_json_saved_by_the_backend_loads_and_evaluates(nndl, tmp_path, framework, framework_trained):
    """The run again with the same seed, saved as network2 JSON: the same parameters, the same figures."""
    book = tmp_path / "book.json"
    assert nndl("train", "--backend", framework.name, *TRAINED_RUN, "--seed", "3", "--save", book).code == 0
    tree = json.loads(book.read_text())
    assert tree["sizes"] == [784, 30, 10] and tree["cost"] == "CrossEntropyCost"
    checkpoint = load_checkpoint(book)
    assert checkpoint.spec is None
    assert_same_params(checkpoint.params, load_checkpoint(framework_trained["save"]).params)

    from_npz = nndl("evaluate", framework_trained["save"], "--backend", framework.name)
    for backend in (framework.name, "numpy"):
        from_json = nndl("evaluate", book, "--preset", TRAINED, "--backend", backend)
        assert evaluated(from_json) == evaluated(from_npz)


# -- 2. checkpoints that do not fit -----------------------------------------------------------


@pytest.fixture
def transposed(tmp_path, framework_trained) -> Path:
    """The backend's checkpoint with W0 stored as (n_in, n_out), as a framework with x W layers would."""
    with np.load(framework_trained["save"]) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["W0"] = arrays["W0"].T.copy()
    path = tmp_path / "transposed.npz"
    np.savez(path, **arrays)
    return path


def test_train_from_a_checkpoint_of_another_network_names_the_shapes(
    nndl, tmp_path, monkeypatch, framework, framework_trained
):
    outputs = [existing(tmp_path / "out.npz"), existing(tmp_path / "out.json")]
    forbid_training(monkeypatch)
    args = ("--backend", framework.name, "--load", framework_trained["save"], "--preset", "ch1-sigmoid-100", "--quiet")
    result = nndl("train", *args, "--save", outputs[0], "--json", outputs[1], "--overwrite")
    assert_one_line_error(result, str(framework_trained["save"]), "layer 0 W", "(30, 784)", "(100, 784)")
    assert all(path.read_text() == PRECIOUS for path in outputs)


def test_a_checkpoint_with_a_transposed_weight_is_refused(nndl, tmp_path, monkeypatch, framework, transposed):
    saved = existing(tmp_path / "out.npz")
    forbid_training(monkeypatch)
    fragments = (str(transposed), "layer 0 W has shape (784, 30)", "the network needs (30, 784)")
    assert_one_line_error(nndl("evaluate", transposed, "--backend", framework.name), *fragments)
    result = nndl("train", "--backend", framework.name, "--load", transposed, "--quiet", "--save", saved, "--overwrite")
    assert_one_line_error(result, *fragments)
    assert saved.read_text() == PRECIOUS


def test_evaluate_the_books_json_with_the_wrong_network(nndl, tmp_path, monkeypatch, framework):
    spec = load_preset(PRESET)
    book = save_checkpoint(tmp_path / "book.json", spec, initial_parameters(spec.network, seed=0))
    forbid_training(monkeypatch)
    result = nndl("evaluate", book, "--preset", "ch5-depth-2", "--backend", framework.name)
    assert_one_line_error(result, str(book), "has 2 layers, but the network has 3")


# -- 3. the framework not installed -----------------------------------------------------------


def block_framework(monkeypatch, framework) -> None:
    """Make `import torch` (or jax) fail as it does where it is not installed, and the backend's
    package be imported afresh."""
    package = framework.backend.__name__
    monkeypatch.setitem(sys.modules, framework.name, None)
    for name in [name for name in sys.modules if name == package or name.startswith(f"{package}.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError):
        __import__(package)


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_the_backend_without_its_framework_says_what_to_install(
    nndl, tmp_path, monkeypatch, framework, numpy_trained, command
):
    monkeypatch.chdir(tmp_path)
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    if command == "train":
        args = ("train", "--backend", framework.name, *SMALL, "--save", saved)
    else:
        args = ("evaluate", numpy_trained["save"], "--backend", framework.name)
    block_framework(monkeypatch, framework)
    message = f"the {framework.name} backend is not installed"
    assert_one_line_error(nndl(*args), message, f"pip install 'nndl[{framework.name}]'")
    assert not saved.exists()


def test_the_numpy_backend_needs_no_framework(nndl, tmp_path, monkeypatch, framework):
    block_framework(monkeypatch, framework)
    result = nndl("train", "--backend", "numpy", *SMALL, "--epochs", "1", "--json", tmp_path / "run.json")
    assert result.code == 0, result.err
    assert read_json(tmp_path / "run.json")["epochs"][0]["validation_correct"] > 3_000


# -- 4. --rng native --------------------------------------------------------------------------


def test_rng_native_is_reproducible_its_own_and_drops_out(nndl, tmp_path, framework):
    """--rng native on a net with dropout p = 0.5 on the output layer's input."""
    with_dropout = dropout_spec_file(nndl, tmp_path, 0.5)
    without = dropout_spec_file(nndl, tmp_path, 0.0)
    runs = {
        name: train_small(nndl, tmp_path, name, framework.name, "--spec", spec, "--seed", seed, "--rng", rng)
        for name, spec, seed, rng in [
            ("a", with_dropout, 1, "native"),
            ("again", with_dropout, 1, "native"),
            ("other", with_dropout, 2, "native"),
            ("shared", with_dropout, 1, "shared"),
            ("without", without, 1, "native"),
        ]
    }
    (run, params), (run_again, params_again) = runs["a"], runs["again"]
    assert run["rng"] == "native" and runs["shared"][0]["rng"] == "shared"
    assert run["spec"]["network"]["layers"][1]["dropout"] == 0.5
    assert correct_counts(run) == correct_counts(run_again)
    assert_same_params(params, params_again)
    assert correct_counts(run)[-1][0] > 5_000  # it learns (chance is 1,000 of 10,000)
    for name in ("other", "shared", "without"):  # another seed, the shared streams, no masks
        assert correct_counts(runs[name][0]) != correct_counts(run)
        assert params_differ(runs[name][1], params)
    # inference scales W x by 1 - p in every backend: the checkpoint evaluates alike, as in training
    for backend in (framework.name, "numpy"):
        figures = evaluated(nndl("evaluate", tmp_path / "a.npz", "--backend", backend))
        assert (figures["validation"][0], figures["test"][0]) == correct_counts(run)[-1]


def test_native_initial_parameters_follow_the_init(framework):
    """Native draws keep the shared streams' scales: N(0, 1) biases, N(0, 1/n_in) weights for
    `default`, N(0, 1) weights for `large`."""
    large = load_preset(PRESET)  # [784, 30, 10], large init
    spec = large.with_changes("network", init="default")
    native = framework.backend.NativeStreams(framework.backend.resolve_device("cpu"))
    params = native.initial_parameters(spec.network, seed=0)
    assert [(w.shape, b.shape) for w, b in params] == list(spec.network.parameter_shapes)
    assert all(w.dtype == np.float64 and b.dtype == np.float64 for w, b in params)
    assert np.std(params[0][0]) * np.sqrt(784) == pytest.approx(1.0, abs=0.02)  # 23,520 weights
    assert np.mean(params[0][0]) * np.sqrt(784) == pytest.approx(0.0, abs=0.02)
    assert np.std(params[1][0]) * np.sqrt(30) == pytest.approx(1.0, abs=0.25)  # only 300 weights
    assert np.std(np.concatenate([b for _, b in params])) == pytest.approx(1.0, abs=0.25)  # only 40 biases
    assert_same_params(native.initial_parameters(spec.network, seed=0), params)
    assert params_differ(native.initial_parameters(spec.network, seed=1), params)
    large_params = native.initial_parameters(large.network, seed=0)
    assert np.std(large_params[0][0]) == pytest.approx(1.0, abs=0.02)
    assert np.std(large_params[1][0]) == pytest.approx(1.0, abs=0.25)
    plan = native.epoch_plan(spec.with_changes("training", shuffle=False), 50, epoch=1, seed=0)
    np.testing.assert_array_equal(framework.to_numpy(plan.order), np.arange(50))


# -- 5. divergence ----------------------------------------------------------------------------


@pytest.mark.parametrize("epoch", [1, 3])
def test_divergence_names_the_same_epoch_and_step_as_the_reference(framework, epoch):
    spec = tiny_spec(hidden=("linear", "linear"), cost="log_likelihood", eta=100.0, init="large", sizes=[6, 20, 20, 4])
    rng = np.random.default_rng(0)
    images, labels = rng.random((200, 6)) * 50, rng.integers(0, 4, 200)
    plan = epoch_plan(spec, 200, epoch=epoch, seed=0)
    raised = {}
    for backend in (reference, framework.backend):
        data_set = prepare_data(backend.asarray, images, labels, 4, "float64")
        with pytest.raises(DivergenceError) as error:
            model = backend.Model(spec, initial_parameters(spec.network, seed=0))
            train_epoch(model, data_set, plan, 100.0, spec.training.batch_size)
        raised[backend.__name__] = error.value
    framework_error, reference_error = raised[framework.backend.__name__], raised["reference"]
    assert (framework_error.epoch, framework_error.step) == (reference_error.epoch, reference_error.step)
    assert framework_error.epoch == epoch
    assert 1 < framework_error.step < 20  # found by the replay, not the epoch's last step by default
    assert str(framework_error) == str(reference_error)


def test_divergence_from_the_command_line_writes_nothing(nndl, tmp_path, framework):
    spec_file = tmp_path / "diverges.toml"
    spec_file.write_text(DIVERGING_SPEC)
    outputs = [tmp_path / "out.npz", tmp_path / "out.json"]
    steps = {}
    for backend in (framework.name, "numpy"):
        args = ("--backend", backend, "--spec", spec_file, "--train-size", "1000", "--quiet")
        result = nndl("train", *args, "--save", outputs[0], "--json", outputs[1])
        line = assert_one_line_error(result, "diverged", "epoch 1, step", "--eta 1e+199")
        steps[backend] = re.search(r"step (\d+)", line)[1]
        assert not any(path.exists() for path in outputs)
    assert steps[framework.name] == steps["numpy"]


# -- 6. dtypes and gradients ------------------------------------------------------------------


def test_float32_and_float64_stay_what_the_spec_says(mnist, framework):
    models = {}
    for dtype in ("float32", "float64"):
        spec = load_preset(PRESET).with_changes("training", epochs=2, dtype=dtype)  # SMALL's training
        history, model = train(framework.backend, spec, splits(mnist, 500), seed=0)
        assert all(p.dtype == framework.own_dtype(dtype) for p in framework.own_parameters(model))
        assert all(w.dtype == np.dtype(dtype) and b.dtype == np.dtype(dtype) for w, b in model.parameters())
        prepared = prepare_data(
            framework.backend.asarray, mnist.validation.images[:5], mnist.validation.labels[:5], 10, dtype
        )
        assert prepared.x.dtype == prepared.y.dtype == framework.own_dtype(dtype)
        assert np.isfinite(history.records[-1].training_cost)
        assert history.records[-1].validation_correct > 3_000
        models[dtype] = model
    for (w32, b32), (w64, b64) in zip(models["float32"].parameters(), models["float64"].parameters()):
        np.testing.assert_allclose(w32, w64, atol=1e-3)
        np.testing.assert_allclose(b32, b64, atol=1e-3)


def test_the_gradients_are_the_references(framework):
    """Model.gradients, for a net with dropout and L2, against the reference's BP1-BP4, to 1e-10."""
    spec = tiny_spec(regularizer="l2", lmbda=3.0, dropout=0.3, sizes=[784, 30, 10])  # MNIST's shapes
    params = initial_parameters(spec.network, seed=2)
    x, y, masks = random_batch(spec, 10, seed=3)
    assert all(mask is not None and 0 < mask.mean() < 1 for mask in masks)
    grads = framework.backend.Model(spec, params).gradients(x, y, masks, 50)
    expected = reference.Model(spec, params).gradients(x, y, masks, 50)
    assert all(grad_w.dtype == grad_b.dtype == np.float64 for grad_w, grad_b in grads)
    assert relative_difference(grads, expected) < 1e-10
    # the masks and the regulariser's term each move the gradient by far more than that
    no_l2 = spec.with_changes("training", regularizer="none", lmbda=0.0)
    assert relative_difference(reference.Model(no_l2, params).gradients(x, y, masks, 50), expected) > 1e-3
    unmasked = [np.ones_like(mask) for mask in masks]
    assert relative_difference(reference.Model(spec, params).gradients(x, y, unmasked, 50), expected) > 1e-3


# -- 7. the last, shorter mini-batch ----------------------------------------------------------


@pytest.mark.parametrize("n_examples", [25, 7])
def test_a_last_shorter_batch_divides_by_its_own_size(framework, n_examples):
    """25 examples in batches of 10: the third step averages over 5, as the reference and the book's
    per-example algorithm do (7 examples: one step, over 7)."""
    spec = tiny_spec(regularizer="l2", lmbda=1.0, dropout=0.2)
    rng = np.random.default_rng(0)
    images, labels = rng.random((n_examples, 6)), rng.integers(0, 4, n_examples)
    plan = epoch_plan(spec, n_examples, epoch=1, seed=0)
    model = framework.backend.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(prepare_data(framework.backend.asarray, images, labels, 4, "float64"), plan, eta=0.5)

    data_set = prepare_data(reference.asarray, images, labels, 4, "float64")
    by_reference = reference.Model(spec, initial_parameters(spec.network, seed=0))
    by_reference.train_epoch(data_set, plan, eta=0.5)
    slow = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=0)]
    per_example_epoch(spec, slow, data_set.x, data_set.y, plan, eta=0.5)
    for expected in (by_reference.parameters(), slow):
        for (w, b), (expected_w, expected_b) in zip(model.parameters(), expected):
            np.testing.assert_allclose(w, expected_w, rtol=1e-12, atol=1e-14)
            np.testing.assert_allclose(b, expected_b, rtol=1e-12, atol=1e-14)

    # Dividing the last batch's summed gradient by 10, the batch size (a padded batch's row count),
    # would have taken only part of its step (a half for 25 examples): the parameters would differ
    # from those by eta (1 - rows / 10) times its mean gradient, far more than the tolerance above.
    last = n_examples - n_examples % 10
    before_last = reference.Model(spec, initial_parameters(spec.network, seed=0))
    first_steps = EpochPlan(1, plan.order[:last], [None if m is None else m[:last] for m in plan.masks])
    before_last.train_epoch(data_set, first_steps, eta=0.5)
    rows = plan.order[last:]
    data_only = reference.Model(spec.with_changes("training", regularizer="none", lmbda=0.0), before_last.parameters())
    last_masks = [None if m is None else m[last:] for m in plan.masks]
    mean_gradient = data_only.gradients(data_set.x[rows], data_set.y[rows], last_masks, n_examples)
    missing = 0.5 * (1 - len(rows) / 10)  # eta times the part of the step that dividing by 10 leaves out
    wrong = [
        (w + missing * grad_w, b + missing * grad_b)
        for (w, b), (grad_w, grad_b) in zip(by_reference.parameters(), mean_gradient)
    ]
    pairs = zip(model.parameters(), wrong)
    assert max(np.abs(ours - theirs).max() for layer, other in pairs for ours, theirs in zip(layer, other)) > 1e-4


# -- 8. determinism ---------------------------------------------------------------------------


def test_the_same_seed_gives_bitwise_the_same_run(mnist, framework):
    spec = load_preset(TRAINED).with_changes("training", epochs=2)
    data = splits(mnist, 500)
    (history_a, model_a), (history_b, model_b) = (train(framework.backend, spec, data, seed=7) for _ in "ab")
    assert [r.training_cost for r in history_a.records] == [r.training_cost for r in history_b.records]
    assert [r.test_correct for r in history_a.records] == [r.test_correct for r in history_b.records]
    assert_same_params(model_a.parameters(), model_b.parameters())
    other, model_other = train(framework.backend, spec, data, seed=8)
    assert [r.training_cost for r in other.records] != [r.training_cost for r in history_a.records]
    assert params_differ(model_other.parameters(), model_a.parameters())


# -- 9. every training option of the reference ------------------------------------------------


@pytest.fixture(scope="module")
def baseline(framework, tmp_path_factory, mnist_path, quick_mnist):
    """SMALL with the backend, seed 4, and no other option: what each option must change."""
    saved = tmp_path_factory.mktemp("baseline") / "baseline.npz"
    cli_run(mnist_path, "--backend", framework.name, *SMALL, "--seed", "4", "--save", saved)
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
def test_every_training_option_reaches_the_backend(nndl, tmp_path, mnist, framework, baseline, options, changes):
    run, params = train_small(nndl, tmp_path, "run", framework.name, "--preset", PRESET, "--seed", "4", *options)
    expected = load_preset(PRESET).with_changes("training", **{"epochs": 2, **changes})
    expected = expected.with_changes("data", train_size=500)
    assert Spec.from_dict(run["spec"]) == expected
    assert run["backend"] == framework.name
    assert [epoch["epoch"] for epoch in run["epochs"]] == list(range(1, expected.training.epochs + 1))
    # the command line ran exactly the spec it reports ...
    _, model = train(framework.backend, expected, splits(mnist, 500), seed=4)
    assert_same_params(params, model.parameters())
    # ... and the option changed what the backend did
    assert params_differ(params, baseline)
    if "dtype" in changes:
        assert all(w.dtype == np.float32 and b.dtype == np.float32 for w, b in params)
    if changes.get("regularizer") == "l1":
        assert sum_abs(params) < 0.95 * sum_abs(baseline)
    if changes.get("regularizer") == "l2":
        assert sum_squares(params) < 0.95 * sum_squares(baseline)


def test_no_shuffle_visits_the_examples_in_order(nndl, tmp_path, mnist, framework):
    """--no-shuffle gives the plan 0, 1, 2, ...: a hand-made plan in that order ends in the same parameters."""
    _, params = train_small(nndl, tmp_path, "run", framework.name, "--preset", PRESET, "--seed", "4", "--no-shuffle")
    spec = load_preset(PRESET).with_changes("training", epochs=2, shuffle=False)  # what the command line ran
    model = framework.backend.Model(spec, initial_parameters(spec.network, seed=4))
    images, labels = mnist.training.images[:500], mnist.training.labels[:500]
    data_set = prepare_data(framework.backend.asarray, images, labels, 10, "float64")
    for epoch in (1, 2):
        model.train_epoch(data_set, EpochPlan(epoch=epoch, order=np.arange(500), masks=[None, None]), spec.training.eta)
    assert_same_params(params, model.parameters())


def test_two_epochs_then_one_more_from_the_checkpoint_equal_three_epochs(nndl, tmp_path, framework):
    first, resumed, straight = tmp_path / "first.npz", tmp_path / "resumed.npz", tmp_path / "straight.npz"
    common = ("--backend", framework.name, "--seed", "7", "--quiet")
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
        "backend": framework.name,
        "device": "cpu",
        "seed": 7,
        "rng": "shared",
        "epochs_trained": 3,
    }
    assert params_differ(load_checkpoint(first).params, load_checkpoint(straight).params)
