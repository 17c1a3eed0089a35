"""What a wrong delta is, as a factor of the right one: --explain's word on BP1 and BP2 in a dense net.

`explain.gradient_culprit` finds the first wrong delta^l from which arrays differ. This module says
what went wrong there, from the numbers only, with no look at the port's code:

- every dC/db of the port c times the reference's (c = m: the mean's 1/m left out; -1: the sign);
- else the factor per example and unit. One example at a time, dC/db^l = delta^l (BP3, m = 1), so the
  reference's one-example gradients give its delta^l_x of each example x of the batch; the port's
  dC/db^l of the batch is tried as (1/m) sum_x f_x * delta^l_x for the factor f of each slip a learner
  makes: sigma'(a^l) / sigma'(z^l) (sigma' of the activation), 1 / sigma'(z^l) (BP2 without it),
  sigma'(z^l) (twice); at the output layer, the sigmoid's sigma'(z^L) = a (1 - a) that the
  cross-entropy and the log-likelihood cancel, or its absence from the quadratic cost's BP1. A factor
  is named where it leaves no more than rounding (MATCH).

z^l and a^l for the factors come from a forward pass written here from the spec (z = W (x * mask) + b,
then the layer's activation), as conformance imports no backend.
"""

from __future__ import annotations

import numpy as np

MATCH = {"float64": 1e-8, "float32": 1e-3}  # a factor is named where it leaves at most this relative difference


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


ACTIVATIONS = {  # each activation function sigma and its derivative sigma', for the factors
    "sigmoid": (_sigmoid, lambda z: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(np.float64)),
    "linear": (lambda z: z, np.ones_like),
    "softmax": (_softmax, None),  # an output layer's only: BP1's factors use a (1 - a)
}


def delta_finding(top: int, spec, port_grads, reference, params, batch, n: int) -> str:
    """What the port's delta^top (top the first wrong one, 1 for the first layer) is, as a factor of the right
    one, or "" where no slip's factor fits; `port_grads` its gradient of `batch` = (x, y, masks) at `params`."""
    if any(layer.type != "dense" for layer in spec.network.layers):
        return ""
    x, y, masks = batch
    match = MATCH[spec.training.dtype]
    at_reference = reference.Model(spec, params).gradients(x, y, masks, n)
    if _fits(np.ravel(port_grads[top - 1][1]), np.ravel(at_reference[top - 1][1]), match):
        return ""  # the port's delta^top is the reference's: the other side of the pair is the one that differs
    theirs, ours = (np.concatenate([np.ravel(b) for _, b in grads]) for grads in (port_grads, at_reference))
    scale = float(np.vdot(theirs, ours) / np.vdot(ours, ours))
    if _fits(theirs, scale * ours, match):
        return _scale_finding(scale, len(x))
    one_example = [
        reference.Model(spec, params).gradients(x[i : i + 1], y[i : i + 1], _row(masks, i), n)[top - 1][1]
        for i in range(len(x))
    ]
    deltas = np.stack([np.ravel(delta) for delta in one_example])  # delta^top of each example
    z, a = _layer_output(spec, params, x, masks, top)
    for factor, meaning in _factors(spec, top, z, a):
        with np.errstate(all="ignore"):
            candidate = np.mean(factor * deltas, axis=0)
        if np.all(np.isfinite(candidate)) and _fits(np.ravel(port_grads[top - 1][1]), candidate, match):
            return meaning
    return ""


def _fits(theirs, candidate, match: float) -> bool:
    size = np.linalg.norm(theirs)
    return size > 0 and np.linalg.norm(theirs - candidate) <= match * size


def _scale_finding(scale: float, m: int) -> str:
    if abs(scale - m) <= 1e-6 * m and m > 1:
        return (
            f"every dC/db is m = {m} times the reference's: the mean over the mini-batch without its 1/m "
            "(divide delta^L by m once: BP2-BP4 are linear in delta)"
        )
    if abs(scale + 1) <= 1e-6:
        return "every dC/db is -1 times the reference's: the output error's sign, y - a where BP1 has a - y"
    return f"every dC/db is {scale:.4g} times the reference's: delta^L scaled by that much"


def _row(masks, i: int):
    return [None if mask is None else mask[i : i + 1] for mask in masks]


def _layer_output(spec, params, x, masks, top: int):
    """z^top and a^top of each example (rows), by a dense forward pass from the spec."""
    a = x.reshape(len(x), -1)
    for layer, (w, b), mask in list(zip(spec.network.layers, params, masks))[:top]:
        z = (a if mask is None else a * mask) @ np.asarray(w, dtype=np.float64).T + b
        a = ACTIVATIONS[layer.activation][0](z)
    return z, a


def _factors(spec, top: int, z, a) -> list[tuple[np.ndarray, str]]:
    """(each example's factor, what it means) for the slips a learner makes in delta^top."""
    layers, cost = spec.network.layers, spec.network.cost
    if top == len(layers):  # BP1: the output error
        sigmoid_prime = a * (1.0 - a)  # the sigmoid's sigma'(z^L); for softmax, its Jacobian's diagonal
        if cost == "quadratic":
            missing = (
                "delta^L lacks the factor sigma'(z^L) = a^L (1 - a^L), example by example: the quadratic cost's "
                "BP1 is (a^L - y) * sigma'(z^L); only the cross-entropy and the log-likelihood cancel sigma'"
            )
            return [(1.0 / sigmoid_prime, missing)]
        extra = (
            "delta^L is sigma'(z^L) = a^L (1 - a^L) times the right one, example by example: the quadratic "
            f"cost's BP1, (a^L - y) * sigma'(z^L), where the {cost.replace('_', '-')} cost's delta^L = a^L - y "
            "has no sigma' (it cancels)"
        )
        return [(sigmoid_prime, extra)]
    prime, l = ACTIVATIONS[layers[top - 1].activation][1], top
    of_activation = (
        f"delta^{l} is sigma'(a^{l}) / sigma'(z^{l}) times the right one, example by example: sigma' taken of "
        f"the activation a^{l} where BP2 has sigma'(z^{l})"
    )
    without = (
        f"delta^{l} lacks the factor sigma'(z^{l}), example by example: BP2 multiplies (W^{l + 1})^T "
        f"delta^{l + 1} by sigma'(z^{l})"
    )
    twice = f"delta^{l} is sigma'(z^{l}) times the right one, example by example: sigma'(z^{l}) taken twice"
    with np.errstate(divide="ignore", invalid="ignore"):  # sigma'(z) = 0 (a ReLU off): that factor fits nothing
        return [(prime(a) / prime(z), of_activation), (1.0 / prime(z), without), (prime(z), twice)]


def first_wrong_delta(differences) -> int | None:
    """The highest layer whose dC/db and dC/dW, both made from its delta, are off (gradient_culprit's rule)."""
    off = {(d.layer, d.array) for d in differences if not d.fine}
    return max((layer for layer, array in off if array == "dC/db" and (layer, "dC/dW") in off), default=None)
