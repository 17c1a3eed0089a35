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
from conformance.suite.step_terms import step_findings, step_terms
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


def test_a_wrong_bp3_is_named_where_dc_dw_agrees_and_dc_db_does_not(nndl, tmp_path):
    """The hidden layers' dC/db times sigma'(z): their dC/dW = delta a^T agrees, so delta is right, and BP2 is not blamed."""
    out, report = explain(nndl, tmp_path, "tests.broken_bp3_backend", "grad sigmoidx2 sigmoid/cross_entropy")
    assert "layer 3 (output): fine layer 2: dC/dW fine; dC/db 8.3e-02 off (relative 7.9e-01" in out
    assert "layer 1: dC/dW fine; dC/db 7.6e-03 off (relative 7.7e-01" in out
    assert (
        "-> BP3, dC/db^l = delta^l, is what broke at layers 1 and 2: dC/db^l is off while dC/dW^l = delta^l "
        "(a^(l-1))^T, from the same delta, agrees, so delta^l is right"
    ) in out
    assert "BP2" not in out and report["failed"] == 2  # float64 and float32


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


def test_a_weight_step_without_the_means_1_over_m_is_named_m_times_too_large(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "tests.broken_mean_backend", "train ch3-l2-30 float64")
    assert "layer 2 (output): W 3.8e+00 off (relative 1.6e+00, the sign flipped in 28% of entries); b fine" in out
    assert (
        "-> the weights' step is m = 10 times the book's: the mean over the mini-batch without its 1/m "
        "(W <- W - (eta / m) sum_x dC_x/dW, ch. 1)"
    ) in out


def test_weight_decay_applied_to_the_biases_is_named(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "tests.broken_bias_decay_backend", "train ch3-l2-30 float64")
    assert "layer 1: W fine; b 1.2e-04 off (relative 5.0e-05, the sign flipped in 0% of entries)" in out
    assert (
        "-> L2's weight decay applied to the biases: (1 - eta lambda / n) on b; the book's rule leaves b out (ch. 3)"
    ) in out


def test_a_bias_step_with_the_wrong_sign_is_named(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "tests.broken_bias_sign_backend", "train ch3-l2-30 float64")
    assert "layer 2 (output): W fine; b 8.5e-01 off (relative 8.4e-01, the sign flipped in 20% of entries)" in out
    assert (
        "-> the biases' step has the wrong sign: it climbs the gradient where b <- b - (eta / m) sum_x dC_x/db "
        "(ch. 1) descends it"
    ) in out


def test_l2_decay_with_the_wrong_sign_is_named(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "tests.broken_l2_sign_backend", "train ch3-l2-30 float64")
    assert "layer 1: W 4.5e-04 off (relative 1.0e-04, the sign flipped in 0% of entries); b fine" in out
    assert (
        "-> L2's weight decay has the wrong sign: w <- (1 + eta lambda / n) w where ch. 3 has "
        "w <- (1 - eta lambda / n) w, with n the whole training set's size"
    ) in out


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


def test_an_output_bias_gradient_off_with_its_weights_fine_is_bp3_not_bp1():
    spec = load_preset("ch1-sigmoid-30")
    differences = [difference(2, "dC/dW", True), difference(2, "dC/db", False)]
    differences += [difference(1, "dC/dW", True), difference(1, "dC/db", True)]
    assert gradient_culprit(differences, spec) == (
        "BP3, dC/db^2 = delta^2, is what broke at layer 2, the output layer: dC/db^2 is off while dC/dW^2 = "
        "delta^2 (a^1)^T, from the same delta, agrees, so delta^2 is right"
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


def book_step(before, gradient, scale, eta):
    """The book's step from `before` along `gradient` (of the regularised cost), `scale` times."""
    return [(w - scale * eta * grad_w, b - scale * eta * grad_b) for (w, b), (grad_w, grad_b) in zip(before, gradient)]


def test_a_step_of_another_size_is_named_by_its_ratio_to_the_books():
    """A step 3 times the book's, weights, decay and biases alike: eta, named by the ratio the fit finds."""
    spec = load_preset("ch3-l2-30")
    rng = np.random.default_rng(0)
    before = [(rng.normal(size=(3, 4)), rng.normal(size=3)), (rng.normal(size=(2, 3)), rng.normal(size=2))]
    gradient = [(rng.normal(size=w.shape), rng.normal(size=b.shape)) for w, b in before]
    eta, n = spec.training.eta, 50_000
    terms = step_terms(before, book_step(before, gradient, 1.0, eta), gradient, spec.training, n)
    assert [(t.gradient_w, t.decay_w, t.gradient_b, t.decay_b) for t in terms] == [
        pytest.approx((1, 1, 1, 0), abs=1e-9)
    ] * 2
    assert step_findings(terms, spec.training, n, m=10) == []
    terms = step_terms(before, book_step(before, gradient, 3.0, eta), gradient, spec.training, n)
    (finding,) = step_findings(terms, spec.training, n, m=10)
    assert finding == (
        "the step of the weights and the biases is 3.0 times the right one: eta or 1/m "
        "(W <- W - (eta / m) sum_x dC_x/dW and b <- b - (eta / m) sum_x dC_x/db, ch. 1)"
    )


def test_a_term_that_is_zero_at_this_step_is_not_named_for_its_multiple():
    """Below a zero-initialised output layer the first gradient is 0: nothing says how the port scales it."""
    spec = load_preset("ch3-l2-30")
    rng = np.random.default_rng(0)
    before = [(rng.normal(size=(3, 4)), rng.normal(size=3)), (np.zeros((2, 3)), rng.normal(size=2))]
    decay_only = ((spec.training.lmbda / 50_000) * before[0][0], np.zeros(3))  # the regularised cost's gradient
    gradient = [decay_only, (rng.normal(size=(2, 3)), rng.normal(size=2))]
    after = book_step(before, gradient, 1.0, spec.training.eta)
    hidden, output = step_terms(before, after, gradient, spec.training, 50_000)
    assert (hidden.gradient_w, hidden.gradient_b, output.decay_w) == (None, None, None)  # 0 gradient, W = 0
    assert (hidden.decay_w, hidden.decay_b) == pytest.approx((1, 0), abs=1e-9)
    assert (output.gradient_w, output.gradient_b, output.decay_b) == pytest.approx((1, 1, 0), abs=1e-9)
    assert step_findings([hidden, output], spec.training, 50_000, m=10) == []


def test_a_step_that_is_no_sum_of_the_books_terms_is_not_named():
    spec = load_preset("ch3-l2-30")
    rng = np.random.default_rng(0)
    before = [(rng.normal(size=(3, 4)), rng.normal(size=3))]
    gradient = [(rng.normal(size=(3, 4)), rng.normal(size=3))]
    eta = spec.training.eta
    clipped = [(w - eta * np.clip(g_w, -0.1, 0.1), b - eta * g_b) for (w, b), (g_w, g_b) in zip(before, gradient)]
    assert step_terms(before, clipped, gradient, spec.training, 50_000) is None


def test_a_check_whose_port_raised_is_not_explained_again():
    """Its own line already says which method raised what; --explain has nothing to replay."""
    failing = Result(
        "a case", "gradient", "port vs numpy", "float64", np.inf, 1e-10, {"error": "Model.gradients: boom"}
    )
    outcome = Outcome("quick", ["numpy", "port"], {}, "cpu", 0, results=[failing])
    assert explain_failures(outcome, cases={}, backends={}, splits={}, device="cpu", seed=0) == []
