"""Tests of conformance.spec.spec and conformance.spec.presets: the book's experiments, and bad spec files.

Every bad spec must be refused with a SpecError that names both the file and the key, so that
the user can find the line to fix without reading a traceback.
"""

import dataclasses
import json
import re
from pathlib import Path

import pytest

from conformance.spec.errors import SpecError
from conformance.spec.presets import load_preset, preset_names
from conformance.spec.spec import Spec, load_spec, spec_to_toml

BOOK_PRESETS = ("ch1-sigmoid-30", "ch1-sigmoid-100", "ch3-l2-100", "ch3-overfit-1000")

# A small valid spec; each bad-spec case below changes one piece of it.
VALID_SPEC = """\
name = "small"

[network]
input = 784
layers = [
  { size = 30, activation = "sigmoid" },
  { size = 10, activation = "sigmoid" },
]
cost = "quadratic"

[training]
epochs = 30
batch_size = 10
eta = 3.0
"""
HIDDEN = '{ size = 30, activation = "sigmoid" }'
OUTPUT = '{ size = 10, activation = "sigmoid" }'


def write_spec(directory: Path, text: str, name: str = "my-spec.toml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def changed(old: str, new: str) -> str:
    """VALID_SPEC with `old` replaced by `new`; `old` must be there, so no case is a silent no-op."""
    assert old in VALID_SPEC, old
    return VALID_SPEC.replace(old, new)


def sizes(spec: Spec) -> tuple[int, ...]:
    return spec.network.sizes


# -- presets ----------------------------------------------------------------------------------


def test_the_book_presets_are_all_there():
    assert set(BOOK_PRESETS) <= set(preset_names())


def test_presets_are_listed_in_chapter_order():
    names = preset_names()
    chapters = [int(re.match(r"ch(\d+)-", name).group(1)) for name in names]
    assert chapters == sorted(chapters)
    assert names.index("ch1-sigmoid-30") < names.index("ch1-sigmoid-100")


@pytest.mark.parametrize("name", preset_names())
def test_preset_loads_with_a_book_figure_and_round_trips(name, tmp_path):
    spec = load_preset(name)
    assert spec.name == name
    assert spec.book is not None and 0 < spec.book.accuracy <= 100
    assert Spec.from_dict(spec.to_dict()) == spec
    assert Spec.from_dict(json.loads(spec.to_json())) == spec
    assert load_spec(write_spec(tmp_path, spec_to_toml(spec))) == spec


def test_spec_to_toml_keeps_any_text_in_strings(tmp_path):
    description = 'accents café, quotes "x" \\ tab\t newline\n DEL\x7f and beyond the BMP: 😀 𝜂'
    spec = dataclasses.replace(load_preset("ch1-sigmoid-30"), description=description)
    assert load_spec(write_spec(tmp_path, spec_to_toml(spec))) == spec


def test_spec_to_toml_without_train_size_or_book_round_trips(tmp_path):
    spec = dataclasses.replace(load_preset("ch3-overfit-1000"), book=None).with_changes("data", train_size=None)
    assert spec.data.train_size is None
    assert load_spec(write_spec(tmp_path, spec_to_toml(spec))) == spec


def test_ch1_sigmoid_30_is_network_py():
    spec = load_preset("ch1-sigmoid-30")
    assert sizes(spec) == (784, 30, 10)
    assert (spec.network.cost, spec.network.init) == ("quadratic", "large")
    assert [layer.activation for layer in spec.network.layers] == ["sigmoid", "sigmoid"]
    assert (spec.training.eta, spec.training.epochs, spec.training.batch_size) == (3.0, 30, 10)
    assert spec.training.regularizer == "none" and spec.data.train_size is None


def test_ch3_l2_100_is_network2_with_l2():
    spec = load_preset("ch3-l2-100")
    assert sizes(spec) == (784, 100, 10)
    assert (spec.network.cost, spec.network.init) == ("cross_entropy", "default")
    training = spec.training
    assert (training.eta, training.lmbda, training.regularizer, training.epochs) == (0.1, 5.0, "l2", 60)


def test_ch3_overfit_1000_trains_on_1000_images_for_400_epochs():
    spec = load_preset("ch3-overfit-1000")
    assert spec.data.train_size == 1000
    assert spec.training.epochs == 400


def test_unknown_preset_lists_the_presets():
    with pytest.raises(SpecError, match="no preset named 'ch9-nope'") as caught:
        load_preset("ch9-nope")
    assert "ch1-sigmoid-30" in str(caught.value)


# -- bad spec files ---------------------------------------------------------------------------


def test_the_valid_spec_loads(tmp_path):
    """The base of every bad-spec case is itself valid, so each case fails for its one change."""
    spec = load_spec(write_spec(tmp_path, VALID_SPEC))
    assert sizes(spec) == (784, 30, 10) and spec.training.eta == 3.0


BAD_SPECS = {
    # case: (old, new, key named in the error, the problem)
    "unknown top-level key": ("[network]", 'colour = "red"\n\n[network]', "colour", "unknown key"),
    "unknown training key": ("eta = 3.0", "eta = 3.0\nmomentum = 0.9", "training.momentum", "unknown key"),
    "unknown layer key": (
        HIDDEN,
        '{ size = 30, activation = "sigmoid", bias = false }',
        "network.layers[0].bias",
        "unknown key",
    ),
    "eta a string": ("eta = 3.0", 'eta = "fast"', "training.eta", "expected a number"),
    "epochs a fraction": ("epochs = 30", "epochs = 2.5", "training.epochs", "expected a whole number"),
    "shuffle a string": ("eta = 3.0", 'eta = 3.0\nshuffle = "yes"', "training.shuffle", "expected true or false"),
    "bool for an int": ("batch_size = 10", "batch_size = true", "training.batch_size", "expected a whole number"),
    "negative eta": ("eta = 3.0", "eta = -0.5", "training.eta", "must not be negative"),
    "zero eta": ("eta = 3.0", "eta = 0.0", "training.eta", "must be positive"),
    "missing eta": ("eta = 3.0", "", "training.eta", "missing"),
    "dropout of 1": (
        HIDDEN,
        '{ size = 30, activation = "sigmoid", dropout = 1.0 }',
        "network.layers[0].dropout",
        "must be below 1",
    ),
    "lmbda without regularizer": ("eta = 3.0", "eta = 3.0\nlmbda = 5.0", "training.lmbda", "'none'"),
    "softmax with quadratic": (
        OUTPUT,
        '{ size = 10, activation = "softmax" }',
        "network.layers[1].activation",
        "needs a sigmoid",
    ),
    "log_likelihood with sigmoid": (
        'cost = "quadratic"',
        'cost = "log_likelihood"',
        "network.layers[1].activation",
        "needs a softmax",
    ),
    "unknown activation": (HIDDEN, '{ size = 30, activation = "swish" }', "network.layers[0].activation", "'swish'"),
    "hidden softmax": (HIDDEN, '{ size = 30, activation = "softmax" }', "network.layers[0].activation", "'softmax'"),
    "zero-sized layer": (HIDDEN, '{ size = 0, activation = "sigmoid" }', "network.layers[0].size", "at least 1"),
    "unknown cost": ('cost = "quadratic"', 'cost = "hinge"', "network.cost", "'hinge'"),
    "missing network": (
        VALID_SPEC[VALID_SPEC.index("[network]") : VALID_SPEC.index("[training]")],
        "",
        "network",
        "missing section",
    ),
}


@pytest.mark.parametrize("case", BAD_SPECS)
def test_bad_spec_names_the_file_and_the_key(case, tmp_path):
    old, new, key, problem = BAD_SPECS[case]
    path = write_spec(tmp_path, changed(old, new))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert str(path) in message
    assert f": {key}: " in message
    assert problem in message


def test_invalid_toml_names_the_file_and_the_line(tmp_path):
    path = write_spec(tmp_path, changed("eta = 3.0", "eta = "))
    line = VALID_SPEC.splitlines().index("eta = 3.0") + 1
    with pytest.raises(SpecError, match="not valid TOML") as caught:
        load_spec(path)
    assert str(path) in str(caught.value) and f"line {line}," in str(caught.value)


def test_missing_spec_file_names_the_file(tmp_path):
    path = tmp_path / "absent.toml"
    with pytest.raises(SpecError, match="cannot read spec file") as caught:
        load_spec(path)
    assert str(path) in str(caught.value)


def test_spec_without_a_name_takes_the_file_name(tmp_path):
    path = write_spec(tmp_path, changed('name = "small"\n', ""), name="from-the-file.toml")
    assert load_spec(path).name == "from-the-file"


# -- changing a spec, and fitting it to the data ----------------------------------------------


def test_with_changes_applies_and_validates():
    spec = load_preset("ch1-sigmoid-30")
    assert spec.with_changes("training", eta=0.5, epochs=2).training.eta == 0.5
    with pytest.raises(SpecError, match=r"the command line: training\.eta: must not be negative"):
        spec.with_changes("training", eta=-1)
    with pytest.raises(SpecError, match=r"training\.lmbda"):
        spec.with_changes("training", lmbda=5.0)
    with pytest.raises(SpecError, match=r"training\.epochs: expected a whole number"):
        spec.with_changes("training", epochs=1.5)


def test_with_changes_leaves_the_original_alone():
    spec = load_preset("ch1-sigmoid-30")
    spec.with_changes("training", eta=0.5)
    assert spec.training.eta == 3.0


def test_check_fits_accepts_mnist():
    load_preset("ch1-sigmoid-30").check_fits(784, 10, "MNIST")


def test_check_fits_refuses_a_wrong_input_size():
    spec = load_preset("ch1-sigmoid-30").with_changes("network", input=785)
    with pytest.raises(SpecError, match="network.input is 785, but mnist.pkl.gz has 784 features"):
        spec.check_fits(784, 10, "mnist.pkl.gz")


def test_check_fits_refuses_a_wrong_output_size():
    spec = load_preset("ch1-sigmoid-30")
    layers = [dataclasses.asdict(layer) for layer in spec.network.layers]
    layers[-1]["size"] = 11
    spec = spec.with_changes("network", layers=layers)
    with pytest.raises(SpecError, match=r"network.layers\[1\].size is 11, but mnist.pkl.gz has 10 classes"):
        spec.check_fits(784, 10, "mnist.pkl.gz")
