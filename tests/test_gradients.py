"""The reference's backprop against central finite differences, in float64.

Every hidden activation x cost (with its output layer) x regulariser x dropout on/off, at
one, two and three hidden layers. The gradient checked is that of the regularised mean cost
of a batch, with fixed dropout masks; every single parameter is perturbed.

The estimate is the conformance engine's (conformance.suite.gradients.finite_difference_gradients):
Richardson's, two central differences at h and h/2 combined so that the h^2 error terms
cancel. That leaves an error of order h^4 from truncation and eps C / h from rounding, both
near 1e-12 at h = 1e-3 on these tiny nets, small enough to check the tiny gradients of the
first layers of a deep sigmoid net (chapter 5's vanishing gradients) to 1e-8. `nndl conform`
checks the same on MNIST-sized nets, on sampled entries.
"""

import itertools

import numpy as np
import pytest

from conformance.data.streams import initial_parameters
from conformance.suite.gradients import finite_difference_gradients
from conformance.suite.results import relative_difference
from reference.network import Network, backprop, cost, forward, gradients
from reference.train import sgd_step
from tests.nets import random_batch, tiny_spec

HIDDEN = ("sigmoid", "tanh", "relu", "linear")
COSTS = ("quadratic", "cross_entropy", "log_likelihood")
REGULARIZERS = (("none", 0.0), ("l2", 0.7), ("l1", 0.7))
DROPOUT = (0.0, 0.3)
DEPTHS = (1, 2, 3)
N_TRAINING = 50  # the n of lambda / n
KINK_MARGIN = 1e-2  # ReLU's derivative jumps at z = 0: keep every z this far from it


def batch_away_from_kinks(spec, params):
    """A random batch whose weighted inputs all lie KINK_MARGIN or more from ReLU's kink at 0.

    Finite differences across the kink measure nothing; with the other activations any batch will do.
    """
    for seed in range(1000):
        x, y, masks = random_batch(spec, m=7, seed=seed)
        zs, _, _ = forward(Network(spec.network), params, x, masks)
        relu_zs = [z for z, layer in zip(zs, spec.network.layers) if layer.activation == "relu"]
        if all(np.abs(z).min() > KINK_MARGIN for z in relu_zs):
            return x, y, masks
    raise AssertionError("no batch away from the ReLU kinks in 1000 tries")


CASES = list(itertools.product(HIDDEN, COSTS, REGULARIZERS, DROPOUT, DEPTHS))


@pytest.mark.parametrize(
    "activation, cost_name, regularizer, dropout, depth",
    CASES,
    ids=[f"{a}-{c}-{r[0]}-dropout{d}-depth{n}" for a, c, r, d, n in CASES],
)
def test_backprop_matches_finite_differences(activation, cost_name, regularizer, dropout, depth):
    spec = tiny_spec(
        hidden=(activation,) * depth, cost=cost_name, regularizer=regularizer[0], lmbda=regularizer[1], dropout=dropout
    )
    params = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=depth)]
    x, y, masks = batch_away_from_kinks(spec, params)
    backprop_grads = gradients(Network(spec.network), spec.training, params, x, y, masks, N_TRAINING)
    numeric_grads = finite_difference_gradients(
        lambda trial: cost(Network(spec.network), spec.training, trial, x, y, masks, N_TRAINING), params
    )
    for layer, (exact, numeric) in enumerate(zip(backprop_grads, numeric_grads)):
        for name, g, fd in zip("Wb", exact, numeric):
            error = relative_difference([(g,)], [(fd,)])
            assert error < 1e-8, f"layer {layer} {name}: relative error {error:.2e}"


def test_dropout_really_changes_the_gradient():
    """The masks are used: the same batch with and without them gives different gradients."""
    spec = tiny_spec(dropout=0.5)
    params = initial_parameters(spec.network, seed=0)
    x, y, masks = random_batch(spec, m=7, seed=0)
    with_masks = gradients(Network(spec.network), spec.training, params, x, y, masks, N_TRAINING)
    without = gradients(Network(spec.network), spec.training, params, x, y, [None, None], N_TRAINING)
    assert not np.allclose(with_masks[0][0], without[0][0])


@pytest.mark.parametrize("regularizer", ["none", "l2", "l1"])
def test_the_update_is_a_gradient_step_on_the_regularised_cost(regularizer):
    """network2's L2 decay factor and the L1 sign step equal W - eta dC/dW, to rounding; b has no penalty."""
    spec = tiny_spec(regularizer=regularizer, lmbda=0.0 if regularizer == "none" else 2.0)
    params = [(w.copy(), b.copy()) for w, b in initial_parameters(spec.network, seed=1)]
    x, y, masks = random_batch(spec, m=7, seed=1)
    eta = 0.3
    full = gradients(Network(spec.network), spec.training, params, x, y, masks, N_TRAINING)
    expected = [(w - eta * gw, b - eta * gb) for (w, b), (gw, gb) in zip(params, full)]
    sgd_step(spec.training, params, backprop(Network(spec.network), params, x, y, masks), eta, N_TRAINING)
    for (w, b), (ew, eb) in zip(params, expected):
        np.testing.assert_allclose(w, ew, rtol=0, atol=1e-14)
        np.testing.assert_array_equal(b, eb)
