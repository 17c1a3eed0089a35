"""`nndl conform --explain` names the part of backprop through a conv-pool layer that a port gets wrong
(conformance/suite/explain_conv.py), and how, from the numbers.

The ports (tests/broken_conv_*_backend.py) are the reference with one function of its conv-pool layer
written wrong, as a learner might; each is run on the smallest conv gradient configuration that shows
its slip (float32 where finite differences, float64 only, would add time and nothing else).
"""

import numpy as np
import pytest

import reference
from conformance.suite.explain import ArrayDifference
from conformance.suite.explain_conv import SLIPS, conv_culprit
from conformance.suite.matrix import ConvGradientCase
from tests.cli_support import read_json

pytestmark = pytest.mark.usefixtures("quick_mnist")  # the session's MNIST, read once

CONV2_MAX_ALL = "grad conv2 max-all tanh none no-dropout network3 float64"


def explain(nndl, tmp_path, port: str, case: str) -> tuple[str, dict]:
    """`nndl conform --explain` of numpy against `port` on the configuration `case`: (the culprit line, JSON)."""
    path = tmp_path / "conform.json"
    result = nndl("conform", "--explain", "--backends", f"numpy,tests.{port}", "--case", case, "--json", path)
    assert result.code == 1, result.out + result.err
    out = " ".join(result.out.split())  # the lines as one, unwrapped
    report = read_json(path)
    assert report["failed"] == 1
    return out, report


def test_a_missing_kernel_flip_in_the_input_gradient_is_named_from_the_layer_below(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "broken_conv_flip_backend", CONV2_MAX_ALL)
    assert "layer 2: fine layer 1: dC/dW 6.2e-02 off (relative 5.9e-01" in out
    assert (
        "-> the conv input gradient of layer 2 is wrong: its own dC/dW and dC/db agree and the layers below differ, "
        "so the delta it passes down is wrong. The slip: a missing kernel flip, delta correlated with the kernel as "
        "it is; with it made, the reference's gradient is this one to 2.7e-16 (5.9e-01 without it). Ch. 6's "
        "backprop problem: dC/dx[n,c,a,b] = sum_{f,p,q} delta[n,f,a-p,b-q] w[f,c,p,q] (BP2 for shared weights)"
    ) in out


def test_a_transposed_channel_axis_in_the_input_gradient_is_told_from_a_missing_flip(nndl, tmp_path):
    out, _ = explain(nndl, tmp_path, "broken_conv_channels_backend", CONV2_MAX_ALL)
    assert (
        "-> the conv input gradient of layer 2 is wrong: its own dC/dW and dC/db agree and the layers below differ, "
        "so the delta it passes down is wrong. The slip: a transposed channel axis, the kernel's (filters, channels) "
        "axes reshaped to (channels, filters) where a transpose belongs, so each channel takes other filters' "
        "weights; with it made, the reference's gradient is this one to 3.1e-16 (1.4e+00 without it)."
    ) in out
    assert "missing kernel flip" not in out


def test_a_flipped_weight_gradient_is_named_where_dc_db_agrees(nndl, tmp_path):
    out, _ = explain(
        nndl, tmp_path, "broken_conv_weight_backend", "grad conv1 max-first sigmoid none no-dropout network3 float32"
    )
    assert "layer 1: dC/dW 5.9e-03 off (relative 4.8e-01, the sign flipped in 20% of entries); dC/db fine" in out
    assert (
        "-> the conv weight gradient at layer 1 is wrong: dC/dW^1 off while dC/db^1, the sum of the same delta, "
        "agrees (a wrong routing would show so too; the slip tells which). The slip: dC/dW flipped in both spatial "
        "axes; with it made, the reference's gradient is this one to 2.1e-07 (4.8e-01 without it). Ch. 6's backprop "
        "problem: dC/dW[f,c,p,q] = sum_{n,i,j} delta[n,f,i,j] x[n,c,i+p,j+q] (BP4 for a shared kernel)"
    ) in out


def test_max_pooling_that_routes_to_the_wrong_entry_is_named_from_dc_dw_and_the_layers_below(nndl, tmp_path):
    out, _ = explain(
        nndl, tmp_path, "broken_conv_maxpool_backend", "grad conv2 max-first sigmoid l1 dropout default float32"
    )
    assert "layer 2: dC/dW 5.7e-04 off (relative 2.7e-02, the sign flipped in 0% of entries); dC/db fine" in out
    assert (
        "-> the pooling's routing at layers 1 and 2 is wrong: dC/dW^2 off while dC/db^2, the sum of the same delta, "
        "agrees, and the layers below, made from delta sent back through the pooling as dC/dW is, differ. The slip: "
        "each window's gradient sent to its maximum's place with row and column exchanged; with it made, the "
        "reference's gradient is this one to 0.0e+00 (2.0e-01 without it)."
    ) in out


def test_l2_poolings_nan_at_an_all_zero_window_is_a_failure_that_says_where(nndl, tmp_path):
    """A NaN gradient fails (it used to pass: max(0, nan) is 0), and the line says where the NaN is and why."""
    out, report = explain(
        nndl, tmp_path, "broken_conv_l2nan_backend", "grad conv1 l2 tanh none no-dropout network3 float32"
    )
    assert "conv1 l2 tanh none nw3 f32 grad nan FAIL" in out
    assert "layer 1: dC/dW NaN in 100 of 100 entries; dC/db fine" in out
    assert (
        "-> NaN in layer 1's dC/dW in 100 of 100 entries: L2 pooling's gradient at an all-zero window, dC/du = "
        "dC/dpooled * u / pooled, is 0/0 there, and the spec makes it 0 (ch. 6, L2 pooling; the reference's "
        "L2Pool.backward): with that 0/0 at its all-zero windows the reference has NaN in exactly these entries, "
        "and the rest agree to 0.0e+00"
    ) in out
    (result,) = report["results"]
    assert result["value"] is None and "NaN" in result["no_value"]


def differences(off: dict) -> list[ArrayDifference]:
    """The arrays of a two-conv-layer net (layers 1-4), those in `off` ((layer, array) -> relative) off."""
    return [
        ArrayDifference(
            layer, array, off.get((layer, array), 0.0), off.get((layer, array), 0.0), 0.0, (layer, array) not in off
        )
        for layer in (1, 2, 3, 4)
        for array in ("dC/dW", "dC/db")
    ]


SPEC = ConvGradientCase(2, "max-first", "sigmoid", "none", False, "default").spec()
GRADIENT = [(np.ones(2), np.ones(2))] * 4  # finite: no NaN to locate


WEIGHT_SAID = "dC/dW^{l} off while dC/db^{l}, the sum of the same delta, agrees"


@pytest.mark.parametrize(
    ("off", "said"),
    [
        ({(1, "dC/dW"): 0.1, (1, "dC/db"): 0.1}, "the conv input gradient of layer 2 is wrong"),
        ({(2, "dC/dW"): 0.1, (1, "dC/dW"): 0.1, (1, "dC/db"): 0.1}, "the pooling's routing at layer 2 is wrong"),
        (
            {(2, "dC/dW"): 0.1},
            (
                f"the conv weight gradient at layer 2 is wrong: {WEIGHT_SAID.format(l=2)}, and the delta passed "
                "down is right (every dC/db below agrees)"
            ),
        ),
        (
            {(1, "dC/dW"): 0.1},
            f"the conv weight gradient at layer 1 is wrong: {WEIGHT_SAID.format(l=1)}; or the pooling's routing",
        ),
        (  # the weight gradient of both conv layers: no dC/db is off, so no delta passed down is wrong
            {(2, "dC/dW"): 0.1, (1, "dC/dW"): 0.1},
            f"the conv weight gradient at layers 1 and 2 is wrong: {WEIGHT_SAID.format(l='l')} (l = 1, 2)",
        ),
        ({(3, "dC/dW"): 0.1, (3, "dC/db"): 0.1, (2, "dC/dW"): 0.1, (2, "dC/db"): 0.1}, None),
    ],
)
def test_without_slips_the_arrays_that_differ_name_the_part(off, said):
    """With no conv_slips to try (a reference without them), the part comes from which arrays differ and agree;
    a difference that starts above the conv layers is left to the dense net's reading (None)."""
    found = conv_culprit(differences(off), SPEC, GRADIENT, None, (), 1e-10)
    assert found == said if said is None else found.startswith(said)


def test_every_slip_of_the_reference_has_its_words_and_every_word_its_slip():
    assert set(reference.conv_slips.SLIPS) == set(SLIPS)
