"""`nndl conform --explain` names the equation each deliberately broken port gets wrong, and says
nothing about ports that conform.

The ports (tests/broken_*_backend.py) are the reference with one function replaced.
"""

import numpy as np
import pytest

from conformance.spec.presets import load_preset
from conformance.suite.engine import Outcome
from conformance.suite.explain import (
    DROPOUT_SCALING,
    ArrayDifference,
    array_differences,
    explain_failures,
    gradient_culprit,
)
from conformance.suite.results import Result
from tests.cli_support import read_json

pytestmark = pytest.mark.usefixtures("quick_mnist")  # the session's MNIST, read once


def explain(nndl, tmp_path, port: str, case: str):
    """`nndl conform --explain` of numpy against `port` on the configurations named `case`: (stdout, JSON)."""
    path = tmp_path / "conform.json"
    result = nndl("conform", "--explain", "--backends", f"numpy,{port}", "--case", case, "--json", path)
    assert result.code == 1, result.out + result.err
    return " ".join(result.out.split()), read_json(path)  # the lines as one, unwrapped


def test_a_wrong_bp2_is_named_in_a_gradient_check(nndl, tmp_path):
    out, report = explain(nndl, tmp_path, "tests.broken_bp2_backend", "grad sigmoidx2 sigmoid/cross_entropy")
    assert "layer 3 (output): fine layer 2: dC/dW 1.3e-02 off (relative 1.7e-01" in out
    assert "-> delta^2 is the first wrong delta (dC/db^2 = delta^2, BP3): BP2 through layer 3's weights" in out
    assert "the layers below inherit the error through BP2" in out
    assert len(report["explanations"]) > 0 and report["failed"] == 2  # float64 and float32


def test_a_wrong_bp2_is_named_at_the_first_step_of_a_deep_net(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "tests.broken_bp2_backend", "train ch5-depth-4")
    assert "step 1 is the first beyond the bound" in out and "the gradients differ there" in out
    assert "layer 5 (output): fine layer 4: dC/dW" in out
    assert "BP2 through layer 5's weights, delta^4 = ((W^5)^T delta^5) * sigma'(z^4)" in out


def test_l2_decay_with_the_batch_size_for_n_is_named_with_the_n_it_used(nndl, tmp_path):
    out, report = explain(nndl, tmp_path, "tests.broken_l2_backend", "train ch3-l2-30 float64")
    assert "the gradients agree there (every array within 1e-10); the step does not" in out
    assert "layer 1: W 1.1e+00 off (relative 2.5e-01, the sign flipped in 0% of entries); b fine" in out
    assert (
        "L2's weight decay, w <- (1 - eta lambda / n) w (ch. 3), with n the whole training set's size (50,000); "
        "this port's step implies n = 10, the mini-batch's size"
    ) in out
    assert report["failed"] == 1


def test_dropout_without_its_inference_scaling_is_named(nndl, tmp_path):
    out, report = explain(nndl, tmp_path, "tests.broken_dropout_backend", "train dropout relu-100")
    failed = [r for r in report["results"] if not r["passed"]]
    assert [r["check"] for r in failed] == ["correct counts"]  # its training steps agree
    assert "at the same parameters, on 1,000 validation images: 105 and 99 correct" in out
    assert f"-> {DROPOUT_SCALING}" in out


def test_a_port_that_conforms_gets_no_explanation(nndl, tmp_path):
    path = tmp_path / "conform.json"
    result = nndl(
        "conform", "--explain", "--backends", "numpy,tests.toy_backend", "--case", "sigmoidx2", "--json", path
    )
    assert result.code == 0 and "where the failing checks part" not in result.out
    assert read_json(path)["explanations"] == []


def difference(layer, array, fine):
    return ArrayDifference(layer, array, 0.0 if fine else 0.1, 0.0 if fine else 0.5, 0.0, fine)


def test_a_wrong_output_error_is_bp1():
    spec = load_preset("ch1-sigmoid-30")
    differences = [difference(2, "dC/dW", False), difference(2, "dC/db", False)]
    differences += [difference(1, "dC/dW", False), difference(1, "dC/db", False)]
    assert gradient_culprit(differences, spec) == (
        "the output error is wrong: BP1, delta^L = (a^L - y) * sigma'(z^L), and BP3 dC/db^L = delta^L"
    )


def test_weights_off_with_biases_fine_is_bp4_or_the_regularisers_term():
    spec = load_preset("ch3-l2-30")
    differences = [difference(2, "dC/dW", False), difference(2, "dC/db", True)]
    differences += [difference(1, "dC/dW", True), difference(1, "dC/db", True)]
    assert gradient_culprit(differences, spec) == (
        "only dC/dW is off (layer 2), every dC/db fine: BP4, dC/dW^l = delta^l (a^(l-1))^T, or the L2 term "
        "of the gradient, (lambda / n) w with n the whole training set's size"
    )


def test_array_differences_count_the_entries_whose_sign_flipped():
    reference = [(np.array([[1.0, -2.0], [3.0, 0.0]]), np.array([1.0, 2.0]))]
    port = [(np.array([[-1.0, -2.0], [3.0, 5.0]]), np.array([1.0, 2.0]))]
    w, b = array_differences(port, reference, bound=1e-10)
    assert (w.layer, w.array, w.largest, w.sign_flips, w.fine) == (1, "dC/dW", 5.0, 1 / 3, False)
    assert w.relative == pytest.approx(np.sqrt(29) / np.sqrt(14))
    assert (b.largest, b.relative, b.fine) == (0.0, 0.0, True)


@pytest.mark.parametrize(
    ("check", "pair", "named"),
    [("outputs", "torch vs numpy", "eq. 2"), ("members, one epoch", "torch ensemble vs alone", "per_member")],
)
def test_a_failing_check_with_no_array_to_attribute_says_what_it_compared(check, pair, named):
    """A perceptron's outputs and an ensemble's members have no layer to blame: a line says so, no crash."""
    failing = Result("a case", check, pair, "float64", 1.0, 0.0)
    outcome = Outcome("quick", ["numpy", "torch"], {}, "cpu", 0, results=[failing])
    lines = explain_failures(outcome, cases={}, backends={}, splits={}, device="cpu", seed=0)
    assert lines[0] == f"a case ({check}, {pair}):" and named in lines[1] and len(lines) == 2
