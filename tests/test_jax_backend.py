"""What only the JAX backend (jax_impl) has: x64 mode, an epoch compiled as one scan, its own random
streams (jax.random keys) and its devices. What every framework backend must do is tested, for
JAX too, in test_framework_backends.py.
"""

import importlib
import inspect

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

import jax_impl
import reference
from conformance.data.streams import EpochPlan, batch_bounds, epoch_plan, initial_parameters
from conformance.run.checkpoint import load_checkpoint
from conformance.run.training import evaluate, prepare_data
from conformance.spec.errors import NndlError
from conformance.spec.presets import load_preset
from conformance.suite.results import relative_difference
from jax_impl import streams as jax_streams
from jax_impl import train as jax_train
from tests.backend_support import PRESET, SMALL, untrained_checkpoint
from tests.cli_support import assert_one_line_error, assert_same_params, forbid_training, params_differ
from tests.nets import tiny_spec

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")


def jax_sees_a_gpu() -> bool:
    try:
        return bool(jax.devices("gpu"))
    except RuntimeError:
        return False


@pytest.fixture
def x64_off():
    """JAX's x64 mode turned off for one test, and on again after it, whatever happens."""
    was_on = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", was_on)


def small_data(n_examples, n_inputs=6, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n_examples, n_inputs)), rng.integers(0, n_classes, n_examples)


# -- 1. x64 mode ------------------------------------------------------------------------------


def test_importing_jax_impl_turns_x64_on(x64_off):
    assert not jax.config.jax_enable_x64
    assert jax.numpy.zeros(1).dtype == np.float32  # what JAX makes with x64 off
    importlib.reload(jax_impl)
    assert jax.config.jax_enable_x64
    assert jax.numpy.zeros(1).dtype == np.float64


def test_a_float64_spec_trains_in_float64_and_a_float32_spec_stays_float32():
    """One epoch of a tiny net with dropout, L2 and a short last batch (the net of
    test_framework_backends' short-batch test, whose compiled epoch this reuses): every array the
    model holds or hands back keeps the spec's dtype, and float64 really computes in float64 (it
    agrees with the reference to 1e-12, where float32 cannot)."""
    images, labels = small_data(25)
    trained = {}
    for dtype in ("float64", "float32"):
        spec = tiny_spec(regularizer="l2", lmbda=1.0, dropout=0.2, dtype=dtype)
        model = jax_impl.Model(spec, initial_parameters(spec.network, seed=0))
        data = prepare_data(jax_impl.asarray, images, labels, 4, dtype)
        assert data.x.dtype == data.y.dtype == np.dtype(dtype)
        model.train_epoch(data, epoch_plan(spec, 25, epoch=1, seed=0), eta=0.5)
        assert [leaf.dtype for leaf in jax.tree.leaves(model.params)] == [np.dtype(dtype)] * 4
        assert all(w.dtype == b.dtype == np.dtype(dtype) for w, b in model.parameters())
        correct, cost = evaluate(model, data, spec)
        assert 0 <= correct <= 25 and np.isfinite(cost)
        trained[dtype] = model.parameters()
    spec = spec.with_changes("training", dtype="float64")
    by_reference = reference.Model(spec, initial_parameters(spec.network, seed=0))
    by_reference.train_epoch(
        prepare_data(reference.asarray, images, labels, 4, "float64"), epoch_plan(spec, 25, 1, 0), 0.5
    )
    assert relative_difference(trained["float64"], by_reference.parameters()) < 1e-12
    assert 1e-9 < relative_difference(trained["float32"], by_reference.parameters()) < 1e-3


def test_float64_without_x64_is_refused_in_one_line(x64_off):
    with pytest.raises(NndlError) as refused:
        jax_train.jax_dtype("float64")
    message = str(refused.value)
    assert "\n" not in message and "float64" in message and "x64" in message and "--dtype float32" in message
    spec = tiny_spec()
    with pytest.raises(NndlError, match="x64"):
        jax_impl.Model(spec, initial_parameters(spec.network, seed=0))
    images, labels = small_data(25)
    with pytest.raises(NndlError, match="x64"):
        prepare_data(jax_impl.asarray, images, labels, 4, "float64")
    # float32 needs no x64 mode, and stays float32 without it
    spec = tiny_spec(dtype="float32", regularizer="l2", lmbda=1.0)
    model = jax_impl.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(prepare_data(jax_impl.asarray, images, labels, 4, "float32"), epoch_plan(spec, 25, 1, 0), eta=0.5)
    assert [leaf.dtype for leaf in jax.tree.leaves(model.params)] == [np.dtype(np.float32)] * 4


def test_the_command_line_never_trains_float64_in_float32(nndl, tmp_path, request):
    """`--dtype float64` trains in float64 (within 1e-10 of NumPy's run, which float32 is not), and
    with x64 mode off it is a one-line error, not a float32 run."""
    saved = {}
    for name, backend, dtype in [
        ("jax64", "jax", "float64"),
        ("jax32", "jax", "float32"),
        ("numpy", "numpy", "float64"),
    ]:
        saved[name] = tmp_path / f"{name}.npz"
        result = nndl("train", "--backend", backend, *SMALL, "--seed", "2", "--dtype", dtype, "--save", saved[name])
        assert result.code == 0, result.err
    params = {name: load_checkpoint(path).params for name, path in saved.items()}
    assert all(w.dtype == b.dtype == np.float64 for w, b in params["jax64"])
    assert relative_difference(params["jax64"], params["numpy"]) < 1e-10
    assert relative_difference(params["jax32"], params["numpy"]) > 1e-8

    request.getfixturevalue("x64_off")
    refused = tmp_path / "refused.npz"
    result = nndl("train", "--backend", "jax", *SMALL, "--dtype", "float64", "--save", refused)
    assert_one_line_error(result, "float64", "x64", "--dtype float32")
    assert not refused.exists()


# -- 2. an epoch is one compiled scan ---------------------------------------------------------


@pytest.fixture
def compilations():
    """The names of the functions JAX compiles while the test runs (from jax.monitoring's events;
    None where this jax's event does not name the function)."""
    compiled = []

    def listen(event, seconds, **details):
        if event.endswith("backend_compile_duration"):
            compiled.append(details.get("fun_name"))

    jax.monitoring.register_event_duration_secs_listener(listen)
    yield compiled
    unregister = getattr(jax.monitoring, "unregister_event_duration_listener", None)
    if unregister is not None:  # an older jax cannot remove it: it stays, filling a list no one reads
        unregister(listen)


def test_an_epoch_is_one_call_compiled_once_per_shape(monkeypatch, compilations):
    scanned_epoch = jax_train._scanned_epoch
    calls, arguments = [], []

    def counted(*args):
        calls.append(args[3].n_steps)
        arguments.append(args)
        return scanned_epoch(*args)

    monkeypatch.setattr(jax_train, "_scanned_epoch", counted)
    spec = tiny_spec(sizes=[6, 9, 4], batch_size=7, dropout=0.1)  # a shape no other test compiles
    images, labels = small_data(25)
    data = prepare_data(jax_impl.asarray, images, labels, 4, "float64")
    model = jax_impl.Model(spec, initial_parameters(spec.network, seed=0))
    steps = []
    cache_before = scanned_epoch._cache_size()
    model.train_epoch(data, epoch_plan(spec, 25, 1, 0), eta=0.5, on_step=lambda: steps.append(1))
    assert calls == [4] and len(steps) == 4  # 25 examples in batches of 7: one call, 4 steps
    assert scanned_epoch._cache_size() == cache_before + 1

    # the next epoch, with another order, other masks and half the eta: nothing is compiled again
    compilations.clear()
    after_one = model.parameters()
    model.train_epoch(data, epoch_plan(spec, 25, 2, 0), eta=0.25)
    assert calls == [4, 4]
    assert scanned_epoch._cache_size() == cache_before + 1
    assert compilations == []
    assert params_differ(model.parameters(), after_one)

    # and the traced epoch is one scan over the 3 whole mini-batches, then the last one's step, not a Python loop
    equations = scanned_epoch.trace(*arguments[-1]).jaxpr.eqns
    assert [e.params.get("length") for e in equations if e.primitive.name == "scan"] == [3]
    assert not any(e.primitive.name in ("while", "pjit") for e in equations)


def test_another_shape_compiles_the_epoch_again(compilations):
    """The converse, so that the test above can fail: a training set of another size is another shape."""
    spec = tiny_spec(sizes=[6, 9, 4], batch_size=7, dropout=0.1)
    images, labels = small_data(31)
    model = jax_impl.Model(spec, initial_parameters(spec.network, seed=0))
    before = jax_train._scanned_epoch._cache_size()
    model.train_epoch(prepare_data(jax_impl.asarray, images, labels, 4, "float64"), epoch_plan(spec, 31, 1, 0), eta=0.5)
    assert jax_train._scanned_epoch._cache_size() == before + 1
    named = [name for name in compilations if name is not None]  # an older jax does not name them
    assert compilations and (any("scanned_epoch" in name for name in named) or not named)


# -- 3. --rng native: jax.random keys ---------------------------------------------------------


@pytest.fixture(scope="module")
def native():
    return jax_impl.NativeStreams(jax_impl.resolve_device("cpu"))


def key_data(keys) -> np.ndarray:
    return np.asarray(jax.random.key_data(keys))


def test_native_streams_are_reproducible_and_not_the_shared_ones(native):
    spec = load_preset(PRESET)  # the shapes of test_framework_backends' native runs: compiled draws are reused
    params = native.initial_parameters(spec.network, seed=0)
    assert_same_params(native.initial_parameters(spec.network, seed=0), params)
    assert params_differ(native.initial_parameters(spec.network, seed=1), params)
    assert params_differ(initial_parameters(spec.network, seed=0), params)

    plan = native.epoch_plan(spec, 500, epoch=1, seed=0)
    order = np.asarray(plan.order)
    assert sorted(order.tolist()) == list(range(500))
    assert len(key_data(plan.step_keys)) == len(batch_bounds(500, 10)) == 50
    again = native.epoch_plan(spec, 500, epoch=1, seed=0)
    np.testing.assert_array_equal(np.asarray(again.order), order)
    np.testing.assert_array_equal(key_data(again.step_keys), key_data(plan.step_keys))
    for other in (native.epoch_plan(spec, 500, epoch=2, seed=0), native.epoch_plan(spec, 500, epoch=1, seed=1)):
        assert not np.array_equal(np.asarray(other.order), order)
        assert not np.array_equal(key_data(other.step_keys), key_data(plan.step_keys))
    assert not np.array_equal(epoch_plan(spec, 500, epoch=1, seed=0).order, order)
    assert len({tuple(k) for k in key_data(plan.step_keys).reshape(50, -1)}) == 50  # one key per step


@pytest.mark.parametrize("p", [0.5, 0.2])
def test_native_dropout_masks_keep_a_unit_with_probability_1_minus_p(native, p):
    spec = tiny_spec(dropout=p, sizes=[50, 50, 4], batch_size=50)
    plan = native.epoch_plan(spec, 500, epoch=1, seed=0)
    masks = [jax_streams.step_masks(spec.network, key, 50) for key in plan.step_keys[:4]]  # 4 of its 10 steps
    assert [[mask.shape for mask in step] for step in masks] == [[(50, 50), (50, 50)]] * 4
    kept = np.concatenate([np.asarray(mask).ravel() for step in masks for mask in step])
    assert kept.dtype == bool and kept.size == 20_000
    sigma = np.sqrt(p * (1 - p) / kept.size)
    assert abs(kept.mean() - (1 - p)) < 5 * sigma  # 5 sigma: 0.018 for p = 0.5
    for step in masks:
        for mask in step:
            assert abs(np.asarray(mask).mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / mask.size)
    # every step and every layer draws its own mask
    assert len({np.asarray(mask).tobytes() for step in masks for mask in step}) == 8


def reference_plan(spec, native_plan) -> EpochPlan:
    """A native plan as the reference takes it: its order, and the masks drawn from each step's key
    (the last, short step taking the first rows of its draw)."""
    n_examples, batch_size = len(native_plan.order), spec.training.batch_size
    bounds = batch_bounds(n_examples, batch_size)
    drawn = [jax_streams.step_masks(spec.network, key, batch_size) for key in native_plan.step_keys]
    masks = [
        None
        if layer.dropout == 0
        else np.concatenate([np.asarray(step[i])[: stop - start] for step, (start, stop) in zip(drawn, bounds)])
        for i, layer in enumerate(spec.network.layers)
    ]
    return EpochPlan(epoch=native_plan.epoch, order=np.asarray(native_plan.order), masks=masks)


def trained_by_the_reference(spec, images, labels, native_plan, eta=0.5):
    model = reference.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(
        prepare_data(reference.asarray, images, labels, 4, "float64"), reference_plan(spec, native_plan), eta
    )
    return model.parameters()


def test_a_native_epoch_applies_each_steps_masks(native):
    """The scanned native epoch is the reference's epoch run on the native order and on the masks drawn
    from each step's key."""
    spec = tiny_spec(regularizer="l1", lmbda=1.0, dropout=0.3)
    images, labels = small_data(25)
    plan = native.epoch_plan(spec, 25, epoch=1, seed=3)
    model = jax_impl.Model(spec, initial_parameters(spec.network, seed=0))
    model.train_epoch(prepare_data(jax_impl.asarray, images, labels, 4, "float64"), plan, eta=0.5)
    assert relative_difference(model.parameters(), trained_by_the_reference(spec, images, labels, plan)) < 1e-12
    # the masks matter: the same order without them ends far from there
    unmasked = trained_by_the_reference(spec.with_changes("network", layers=no_dropout(spec)), images, labels, plan)
    assert relative_difference(model.parameters(), unmasked) > 1e-3


def no_dropout(spec) -> list[dict]:
    return [{**layer, "dropout": 0.0} for layer in spec.to_dict()["network"]["layers"]]


def test_no_function_in_the_streams_has_a_default_key():
    """A default key argument would be made once, at import, and reused by every caller."""
    functions = [
        member
        for _, owner in [(None, jax_streams), *inspect.getmembers(jax_streams, inspect.isclass)]
        for _, member in inspect.getmembers(owner, inspect.isfunction)
        if member.__module__ == jax_streams.__name__
    ]
    assert {"initial_parameters", "epoch_plan", "step_masks", "_key"} <= {function.__name__ for function in functions}
    for function in functions:
        for parameter in inspect.signature(function).parameters.values():
            has_default = parameter.default is not inspect.Parameter.empty
            assert not (has_default and ("key" in parameter.name or "seed" in parameter.name)), function
            assert not isinstance(parameter.default, jax.Array), function
    assert not [name for name, value in vars(jax_streams).items() if isinstance(value, jax.Array)]


# -- 4. devices that are not there ------------------------------------------------------------


WITHOUT_A_GPU = pytest.mark.skipif(jax_sees_a_gpu(), reason="this jax sees a GPU")


@pytest.mark.parametrize(
    ("command", "device", "says"),
    [
        pytest.param("train", "cuda", "sees no GPU", marks=WITHOUT_A_GPU),
        pytest.param("evaluate", "cuda", "sees no GPU", marks=WITHOUT_A_GPU),
        pytest.param("train --rng native", "cuda", "sees no GPU", marks=WITHOUT_A_GPU),
        ("train", "mps", "does not run on Apple MPS"),
        ("evaluate", "mps", "does not run on Apple MPS"),
    ],
)
def test_a_device_jax_cannot_use_is_one_line(nndl, tmp_path, monkeypatch, command, device, says):
    checkpoint = untrained_checkpoint(tmp_path)
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    if command == "evaluate":
        result = nndl("evaluate", checkpoint, "--backend", "jax", "--device", device)
    else:
        result = nndl(*command.split(), "--backend", "jax", "--device", device, *SMALL, "--save", saved)
    assert_one_line_error(result, f"--device {device}", says, "use --device cpu")
    assert not saved.exists()


def test_l1s_gradient_at_a_zero_weight_is_zero_as_in_the_reference():
    """|w|' at w = 0 is sgn(0) = 0 in the book's L1 update; jnp.abs's own derivative there is 1.
    (Found by the chapter 6 conformance rows: network3's softmax layer starts at 0.)"""
    from jax_impl.regularizers import L1
    from reference.regularizers import L1 as ReferenceL1

    w = np.array([[0.0, 2.0], [-3.0, 0.0]])
    by_jax = jax.grad(lambda w: L1.penalty([w], 5.0, 100))(jnp.asarray(w))
    np.testing.assert_array_equal(np.asarray(by_jax), ReferenceL1.gradient(w, 5.0, 100))
    assert float(L1.penalty([jnp.asarray(w)], 5.0, 100)) == 5.0 / 100 * 5.0
