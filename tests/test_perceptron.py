"""Chapter 1's perceptrons in every backend: the NAND gate, the adder built of NANDs, and their conformance row."""

import importlib
from types import SimpleNamespace

import numpy as np
import pytest

from conformance.backend.registry import backend_names
from conformance.suite import engine, matrix
from conformance.suite.perceptrons import BIT_PAIRS, check_perceptrons, perceptron_outputs
from reference import perceptron as reference_perceptron

X1, X2 = BIT_PAIRS  # 0011, 0101


@pytest.fixture(scope="module")
def backends():
    return engine.available_backends(backend_names(), log=lambda message: None)[0]


def test_the_reference_is_the_books_nand_gate_and_adder():
    assert reference_perceptron.NAND_WEIGHTS == (-2.0, -2.0) and reference_perceptron.NAND_BIAS == 3.0
    assert reference_perceptron.nand(X1, X2).tolist() == [1.0, 1.0, 1.0, 0.0]
    total, carry = reference_perceptron.add_bits(X1, X2)
    assert total.tolist() == [0.0, 1.0, 1.0, 0.0] and carry.tolist() == [0.0, 0.0, 0.0, 1.0]


def test_a_perceptron_fires_only_above_its_threshold():
    """eq. 2: output 1 when w . x + b > 0; at exactly 0 it stays at 0."""
    x = np.array([[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]])
    assert reference_perceptron.perceptron(np.array([1.0, 1.0]), -1.0, x).tolist() == [1.0, 0.0, 0.0]


@pytest.mark.parametrize("name", ["numpy", "torch", "jax"])
def test_every_backend_adds_every_pair_of_bits(name, backends):
    if name not in backends:
        pytest.skip(f"the {name} backend is not installed")
    nand, total, carry = perceptron_outputs(backends[name], X1, X2)
    assert nand.tolist() == [1.0, 1.0, 1.0, 0.0]
    assert (2 * carry + total).tolist() == (X1 + X2).tolist()


def test_the_perceptrons_conform_across_the_backends(backends):
    results = check_perceptrons(matrix.PERCEPTRONS, backends)
    pairs = [result.pair for result in results]
    assert pairs[-1] == "numpy vs truth table" and len(pairs) == len(backends) * (len(backends) - 1) // 2 + 1
    assert all(result.passed and result.value == 0 for result in results)


def wrong_backend(bias):
    """The reference with its NAND's bias changed: at 1 it is a NOR gate, and the adder goes wrong too."""
    module = importlib.import_module("reference.perceptron")

    def nand(x1, x2):
        return module.perceptron(np.asarray(module.NAND_WEIGHTS), bias, np.stack([x1, x2], axis=-1))

    def add_bits(x1, x2):
        first = nand(x1, x2)
        return nand(nand(x1, first), nand(x2, first)), nand(first, first)

    return SimpleNamespace(asarray=np.asarray, perceptron=SimpleNamespace(nand=nand, add_bits=add_bits))


def test_a_wrong_gate_fails_against_the_reference_and_the_truth_table(backends):
    [against_reference] = check_perceptrons(
        matrix.PERCEPTRONS, {"numpy": backends["numpy"], "nor": wrong_backend(1.0)}
    )[:1]
    assert against_reference.pair == "nor vs numpy" and not against_reference.passed
    assert against_reference.value == 8  # NOR differs from NAND on 01 and 10, and so do the sums and carries
    truth = check_perceptrons(matrix.PERCEPTRONS, {"numpy": wrong_backend(1.0)})
    assert [(r.pair, r.value, r.passed) for r in truth] == [("numpy vs truth table", 8.0, False)]


def test_a_backend_without_perceptrons_is_not_applicable_not_failed(backends):
    without = SimpleNamespace(asarray=np.asarray)
    [result, _] = check_perceptrons(matrix.PERCEPTRONS, {"numpy": backends["numpy"], "bare": without})
    assert not result.failed and not result.passed  # neither: it did not run
    assert result.not_applicable == "bare has no perceptron module (optional in the contract)"


@pytest.mark.parametrize("mode", engine.MODES)
def test_conform_checks_the_perceptrons_first(mode):
    assert engine.planned_checks(mode)[0] == (matrix.PERCEPTRONS, {})


def test_conform_prints_the_perceptron_row(nndl, quick_mnist):
    result = nndl("conform", "--case", "perceptron")
    assert result.code == 0, result.out
    row = next(line for line in result.out.splitlines() if line.startswith("perceptron NAND adder"))
    assert row.split()[3] == "outputs" and row.split()[4:] == ["0", "ok"] * row.count("ok")
    assert row.count("ok") == 4  # torch vs numpy, jax vs numpy, jax vs torch, numpy vs truth table
    assert "perceptrons (NAND gate, adder): at most 0 output bits differ" in result.out
