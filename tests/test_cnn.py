"""The chapter 6 convolutional nets: the spec's conv layer and network3's choices, and the three
backends training them alike on real MNIST (the conformance engine checks the gradients and the
first steps of many more configurations; see test_conformance.py)."""

import json
import math

import numpy as np
import pytest

from conformance.backend.registry import load_backend
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.run.checkpoint import load_checkpoint, save_checkpoint
from conformance.run.training import EpochRecord, History, evaluate, prepare_data, train_epoch
from conformance.spec.errors import BackendNotInstalledError, SpecError
from conformance.spec.presets import load_preset, preset_names
from conformance.spec.spec import Spec, load_spec, spec_to_toml
from conformance.suite.results import relative_difference

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")

BACKENDS = ("numpy", "torch", "jax")
CHAPTER_6 = [name for name in preset_names() if name.startswith("ch6-")]


def installed(name):
    try:
        return load_backend(name)
    except BackendNotInstalledError as error:
        pytest.skip(str(error))


def small_cnn(pooling="max", ties="all", activation="relu", dropout=0.0, dtype="float64", init="network3"):
    """ch6-conv2-relu's layout with small conv layers, in float64 unless asked."""
    conv = {"type": "conv", "kernel": 5, "pool": 2, "pooling": pooling, "activation": activation}
    if pooling == "max":
        conv["ties"] = ties
    tree = load_preset("ch6-conv2-relu").to_dict()
    tree["network"]["layers"] = [
        {**conv, "filters": 4},
        {**conv, "filters": 6},
        {"type": "dense", "size": 30, "activation": activation, "dropout": dropout},
        {"type": "dense", "size": 10, "activation": "softmax", "dropout": dropout},
    ]
    tree["network"]["init"] = init
    tree["training"].update(dtype=dtype, eta=0.1)
    return Spec.from_dict(tree, "tests/test_cnn.py")


# -- the spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHAPTER_6)
def test_every_chapter_6_preset_reads_back_from_its_own_toml(name, tmp_path):
    spec = load_preset(name)
    path = tmp_path / f"{name}.toml"
    path.write_text(spec_to_toml(spec))
    assert load_spec(path) == spec
    assert spec.book.metric == "test_accuracy_at_best_validation"
    assert spec.training.dtype == "float32" and not spec.training.shuffle and spec.training.drop_last
    assert spec.training.best_epoch_ties == "last" and spec.network.init == "network3"
    assert all(layer.ties == "all" for layer in spec.network.layers if layer.type == "conv")


def test_the_conv_nets_shapes_and_canonical_layout():
    network = load_preset("ch6-conv2-relu").network
    assert network.layer_input_shapes == ((1, 28, 28), (20, 12, 12), (40, 4, 4), (100,))
    assert network.parameter_shapes == (
        ((20, 1, 5, 5), (20,)),
        ((40, 20, 5, 5), (40,)),
        ((100, 640), (100,)),
        ((10, 100), (10,)),
    )
    assert network.sizes == (784, 2880, 640, 100, 10)


def test_network3s_init_scales_by_n_out_and_starts_the_softmax_layer_at_zero():
    network = load_preset("ch6-dropout").network
    assert network.init_fans == (20 * 25 // 4, 40 * 25 // 4, 1000, 1000, 10)
    params = initial_parameters(network, seed=0)
    for (w, b), fan, zero in zip(params, network.init_fans, network.starts_at_zero):
        if zero:
            assert not w.any() and not b.any()
        else:
            assert w.std() == pytest.approx(1 / math.sqrt(fan), rel=0.1)
            assert b.std() == pytest.approx(1.0, rel=0.35)
    assert network.starts_at_zero == (False, False, False, False, True)
    # the other layers' draws do not depend on the softmax layer starting at 0
    default = Spec.from_dict({**load_preset("ch6-dropout").to_dict(), "name": "x"}).network
    assert np.array_equal(initial_parameters(default, seed=0)[0][1], params[0][1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["network"]["layers"].insert(0, {"type": "dense", "size": 30, "activation": "relu"}),
            "a conv layer takes (channels, rows, columns)",
        ),
        (lambda t: t["network"]["layers"][0].update(kernel=29), "kernel does not fit"),
        (lambda t: t["network"]["layers"][1].update(pool=9), "pool does not fit"),
        (lambda t: t["network"]["layers"][0].update(pooling="l2"), "an L2 pool has no ties"),
        (lambda t: t["network"]["layers"][0].update(ties="some"), "network.layers[0].ties: unknown value 'some'"),
        (lambda t: t["network"]["layers"][0].update(stride=2), "network.layers[0].stride: unknown key"),
        (
            lambda t: t["network"]["layers"].__setitem__(-1, dict(t["network"]["layers"][0])),
            "output layer must be dense",
        ),
        (lambda t: t["network"].update(input=[1, 28]), "a conv layer takes (channels, rows, columns)"),
        (lambda t: t["network"].update(input=[1, 28, 28, 1, 1]), "a shape of 1 to 3 whole numbers"),
        (lambda t: t["training"].update(best_epoch_ties="middle"), "training.best_epoch_ties"),
    ],
)
def test_a_bad_conv_spec_names_its_key(change, message):
    tree = load_preset("ch6-conv2-relu").to_dict()
    change(tree)
    with pytest.raises(SpecError) as raised:
        Spec.from_dict(tree, "my.toml")
    assert message in str(raised.value) and str(raised.value).startswith("my.toml: ")


def test_drop_last_leaves_out_a_short_last_batch():
    spec = load_preset("ch6-conv2-relu")
    plan = epoch_plan(spec, 1005, epoch=3, seed=0)
    assert np.array_equal(plan.order, np.arange(1000))  # no shuffling, the 5 left over dropped
    assert spec.with_changes("training", drop_last=False).training.examples_per_epoch(1005) == 1005


@pytest.mark.parametrize(("ties", "best"), [("first", 2), ("last", 4)])
def test_the_best_validation_epoch_on_a_tie(ties, best):
    def record(epoch, validation_correct):
        figures = dict.fromkeys(EpochRecord.__dataclass_fields__, 0.0)
        return EpochRecord(**{**figures, "epoch": epoch, "validation_correct": validation_correct})

    history = History([record(1, 50), record(2, 90), record(3, 70), record(4, 90)], best_epoch_ties=ties)
    assert history.best_validation.epoch == best


# -- the three backends on real MNIST -----------------------------------------------------------


def trained(backend_name, spec, mnist, n=200, seed=0):
    backend = installed(backend_name)
    training = mnist.training.first(n)
    data = prepare_data(backend.asarray, training.images, training.labels, 10, spec.training.dtype)
    model = backend.Model(spec, initial_parameters(spec.network, seed))
    train_epoch(model, data, epoch_plan(spec, n, 1, seed), spec.training.eta, spec.training.batch_size)
    return model


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_l2_pooling_trains_without_nan_from_the_first_step(backend_name, mnist):
    """MNIST's blank margins make whole windows 0 before the bias, where sqrt' is infinite: the spec's
    gradient there is 0, so nothing turns NaN, and the first step already moves the conv weights."""
    spec = small_cnn(pooling="l2", init="default")
    first_images = mnist.training.first(10).images.reshape(10, 28, 28)
    assert (first_images[:, :6, :6] == 0).all()  # a blank corner: an all-zero pooled window in layer 1
    model = trained(backend_name, spec, mnist, n=10)
    after_one_step = model.parameters()
    assert all(np.isfinite(array).all() for layer in after_one_step for array in layer)
    assert relative_difference(after_one_step[:1], initial_parameters(spec.network, 0)[:1]) > 1e-6


@pytest.mark.parametrize("spec_name", ["max first", "max all", "l2 dropout"])
def test_a_cnn_epoch_is_the_same_in_every_backend(spec_name, mnist):
    pooling, rule = spec_name.split()
    spec = small_cnn(
        pooling=pooling, ties=rule if pooling == "max" else "all", dropout=0.5 if rule == "dropout" else 0.0
    )
    by_reference = trained("numpy", spec, mnist)
    for name in BACKENDS[1:]:
        model = trained(name, spec, mnist)
        assert relative_difference(model.parameters(), by_reference.parameters()) < 1e-11, name


@pytest.mark.parametrize("saved_by", BACKENDS)
def test_a_cnn_checkpoint_evaluates_to_the_same_count_in_every_backend(saved_by, mnist, tmp_path):
    """W (filters, channels, kh, kw) and b (filters,) per conv layer, a dense layer's input flattened
    (channel, row, column): the layout every backend reads and writes."""
    spec = small_cnn()
    path = save_checkpoint(tmp_path / "cnn.npz", spec, trained(saved_by, spec, mnist, n=100).parameters())
    checkpoint = load_checkpoint(path)
    validation = mnist.validation.first(1000)
    counts = {}
    for name in BACKENDS:
        backend = installed(name)
        data = prepare_data(backend.asarray, validation.images, validation.labels, 10, spec.training.dtype)
        counts[name] = evaluate(backend.Model(checkpoint.spec, checkpoint.params), data, spec)[0]
    assert len(set(counts.values())) == 1 and counts["numpy"] > 200, counts  # it learned: chance is 100


def test_a_conv_net_cannot_be_saved_in_the_books_json(nndl, tmp_path):
    result = nndl("train", "--preset", "ch6-conv1-sigmoid", "--save", tmp_path / "net.json", "--epochs", "1")
    assert result.code == 2 and "dense sigmoid networks" in result.err and not (tmp_path / "net.json").exists()


@pytest.mark.slow
@pytest.mark.parametrize("backend_name", BACKENDS)
def test_one_epoch_of_the_books_relu_cnn_is_well_above_96_percent(backend_name, nndl, tmp_path):
    """`nndl train --preset ch6-conv2-relu --epochs 1`: the issue's bar, in every backend (minutes each)."""
    installed(backend_name)
    result = nndl(
        "train",
        "--preset",
        "ch6-conv2-relu",
        "--epochs",
        "1",
        "--backend",
        backend_name,
        "--json",
        tmp_path / "run.json",
        "--quiet",
    )
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "run.json").read_text())["epochs"][0]["test_accuracy"] > 0.97


def test_the_bench_times_a_cnn_and_skips_the_dense_only_baselines(nndl_bench):
    code, out, err = nndl_bench(
        "--preset", "ch6-conv1-sigmoid", "--backends", "numpy", "--repeat", "1", "--train-size", "50"
    )
    assert code == 0, err
    assert "numpy per-example (the book's algorithm) skipped: the book's per-example algorithm is written" in err
    assert "sizes [1x28x28, 20x12x12, 100, 10]" in out and "numpy reference" in out and "numpy bare loop" in out
