"""The network as pure functions of a parameter pytree, and its gradient by jax.grad.

`params` is a tuple of (W, b) pairs, layer by layer, in the canonical layout. Rows are
examples: x has shape (m, n_in), and a layer computes z = x W^T + b with W of shape
(n_out, n_in). `masks` holds, per layer, the dropout keep-mask of that layer's input for these
examples (None where the layer has no dropout). Where reference/network.py writes out BP1-BP4,
this file calls jax.grad.
"""

from functools import partial

import jax
import jax.numpy as jnp

from .activations import ACTIVATIONS
from .costs import COSTS
from .regularizers import REGULARIZERS

EVALUATION_CHUNK = 10_000  # rows per forward pass when evaluating, to bound memory


def feedforward(network, params, x):
    """The output a^L for inputs x at inference (a^l = sigma(W^l a^(l-1) + b^l), layer by layer)."""
    return _inference(network, params, x)[1]


def _inference(network, params, x):
    """The output layer's z and a at inference, where a dropout layer scales W x by (1 - p)."""
    a = x
    for (w, b), layer in zip(params, network.layers):
        wx = a @ w.T
        if layer.dropout:
            wx = wx * (1.0 - layer.dropout)
        z = wx + b
        a = ACTIVATIONS[layer.activation].fn(z)
    return z, a


def backprop(network, params, x, y, masks, real=None):
    """The gradient of the batch's mean cost C = (1/m) sum_x C_x, layer by layer: ((dC/dW, dC/db), ...).

    BP1-BP4 are what jax.grad computes, from the end of the forward pass back. `real`, where
    given, is 1 for each of the batch's examples and 0 for a row that only pads a short last
    batch to the others' shape (see train._scanned_batches): m counts the real rows, the batch's
    own size.
    """
    return jax.grad(lambda p: _mean_cost(network, p, x, y, masks, real))(params)


def _mean_cost(network, params, x, y, masks, real):
    z, a = _forward(network, params, x, masks)
    per_example = COSTS[network.cost].fn(z, a, y)
    if real is None:
        return jnp.mean(per_example)
    return jnp.sum(per_example * real) / jnp.sum(real)


def _forward(network, params, x, masks):
    """The training-time forward pass: the output layer's z and a, each layer's input masked."""
    a = x
    for (w, b), layer, mask in zip(params, network.layers, masks):
        if mask is not None:
            a = a * mask
        z = a @ w.T + b
        a = ACTIVATIONS[layer.activation].fn(z)
    return z, a


def cost(network, training, params, x, y, masks, n):
    """The regularised mean cost of a batch: (1/m) sum_x C_x + the regulariser's term with lambda / n."""
    z, a = _forward(network, params, x, masks)
    data_cost = jnp.mean(COSTS[network.cost].fn(z, a, y))
    return data_cost + REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, n)


def gradients(network, training, params, x, y, masks, n):
    """The gradient of `cost`, regulariser's term included, by jax.grad.

    Not jitted: conformance asks once for each of hundreds of networks, and compiling each would
    cost more (~0.4 s) than running the operations one by one (~0.1 s, less as their shapes recur).
    """
    return jax.grad(lambda p: cost(network, training, p, x, y, masks, n))(params)


def evaluate(network, training, params, x, labels):
    """(the number of examples whose highest output is the label, the data set's total cost).

    The total cost follows network2: the mean per-example cost plus the regulariser's term with
    n = the size of this data set. An argmax tie goes to the first index, as in the reference.
    """
    correct, cost_sum = 0, 0.0
    for start in range(0, len(x), EVALUATION_CHUNK):
        chunk_correct, chunk_cost = _evaluate_chunk(
            network, params, x[start : start + EVALUATION_CHUNK], labels[start : start + EVALUATION_CHUNK]
        )
        correct += int(chunk_correct)
        cost_sum += float(chunk_cost)
    penalty = REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, len(x))
    return correct, cost_sum / len(x) + float(penalty)


@partial(jax.jit, static_argnums=0)
def _evaluate_chunk(network, params, x, labels):
    z, a = _inference(network, params, x)
    correct = jnp.count_nonzero(jnp.argmax(a, axis=1) == labels)
    return correct, jnp.sum(COSTS[network.cost].fn(z, a, one_hot(labels, a.shape[1], a.dtype)))


def one_hot(labels, n_classes, dtype):
    """The desired output y(x): 1 at the label, 0 elsewhere."""
    return jax.nn.one_hot(labels, n_classes, dtype=dtype)
