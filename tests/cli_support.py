"""What the tests of the `nndl` command share: its result, and assertions about it and its outputs."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from conformance.data import mnist as mnist_file
from conformance.run import session

# a bench of a few seconds: one epoch of 1,000 images per row
SMALL_BENCH = ("--preset", "ch1-sigmoid-30", "--repeat", "1", "--train-size", "1000", "--no-per-example")

# a spec whose first steps overflow: eta = 1e200 on a ReLU net
DIVERGING_SPEC = """\
name = "diverges"

[network]
input = 784
layers = [
  { size = 30, activation = "relu" },
  { size = 10, activation = "softmax" },
]
cost = "log_likelihood"

[training]
epochs = 2
batch_size = 10
eta = 1e200
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """Exit 2, with one line on stderr that says what is wrong (and no traceback)."""
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nndl: error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def forbid_training(monkeypatch) -> None:
    """Make reading the data or training fail the test: the command must stop before either."""

    def too_late(*args, **kwargs):
        pytest.fail("the command read the data or trained before refusing")

    monkeypatch.setattr(mnist_file, "load_mnist", too_late)
    monkeypatch.setattr(session, "train_epochs", too_late)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def assert_same_params(params_a, params_b) -> None:
    """Bitwise the same parameters, layer by layer, in the same dtype and shape."""
    for layer_a, layer_b in zip(params_a, params_b, strict=True):
        for a, b in zip(layer_a, layer_b, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(a, b)


def params_differ(params_a, params_b) -> bool:
    return any(
        not np.array_equal(a, b) for layer_a, layer_b in zip(params_a, params_b) for a, b in zip(layer_a, layer_b)
    )
