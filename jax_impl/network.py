"""The network: a chain of layers as pure functions of a parameter pytree, and its gradient by jax.grad.

Rows are examples: x has shape (m, *input shape). `params` is a tuple of (W, b) pairs, layer
by layer, in the canonical layout, and `masks` the dropout keep-mask of each layer's input for
these examples (None where the layer has no dropout). Where reference/network.py writes out
BP1-BP4, this file calls jax.grad.
"""

from functools import partial

import jax
import jax.numpy as jnp

from .costs import COSTS
from .layers import LAYERS
from .regularizers import REGULARIZERS


class Network:
    """A spec's network (conformance.spec.parts.Network) as this backend's layers, and its cost.

    jax.jit compiles a function once per value of its static arguments, which must be hashable:
    two Networks are equal when their specs are.
    """

    def __init__(self, network):
        self.spec = network
        self.layers = [
            LAYERS[layer.type](layer, shape) for layer, shape in zip(network.layers, network.layer_input_shapes)
        ]
        self.cost = COSTS[network.cost]

    def __hash__(self):
        return hash(self.spec)

    def __eq__(self, other):
        return isinstance(other, Network) and other.spec == self.spec


def feedforward(network, params, x):
    """The output a^L for inputs x at inference (a^l = sigma(W^l a^(l-1) + b^l), layer by layer)."""
    return infer(network, params, x)[1]


def infer(network, params, x):
    """The output layer's z and a at inference (where a dropout layer scales W x by (1 - p))."""
    a = x
    for layer, layer_params in zip(network.layers, params):
        z, a = layer.infer(layer_params, a)
    return z, a


def forward(network, params, x, masks):
    """The training-time forward pass: the output layer's z and a."""
    a = x
    for layer, layer_params, mask in zip(network.layers, params, masks):
        z, a = layer.forward(layer_params, a, mask)
    return z, a


def backprop(network, params, x, y, masks):
    """The gradient of the batch's mean cost C = (1/m) sum_x C_x, layer by layer: ((dC/dW, dC/db), ...).

    BP1-BP4 are what jax.grad computes, from the end of the forward pass back.
    """

    def mean_cost(params):
        z, a = forward(network, params, x, masks)
        return jnp.mean(network.cost.fn(z, a, y))

    return jax.grad(mean_cost)(params)


def cost(network, training, params, x, y, masks, n):
    """The regularised mean cost of a batch: (1/m) sum_x C_x + the regulariser's term with lambda / n."""
    z, a = forward(network, params, x, masks)
    return jnp.mean(network.cost.fn(z, a, y)) + penalty(training, params, n)


def gradients(network, training, params, x, y, masks, n):
    """The gradient of `cost`, regulariser's term included, by jax.grad.

    Not jitted: conformance asks once for each of hundreds of networks, and compiling each would
    cost more (~0.4 s) than running the operations one by one (~0.1 s, less as their shapes recur).
    """
    return jax.grad(lambda p: cost(network, training, p, x, y, masks, n))(params)


def penalty(training, params, n):
    """The regulariser's term of the cost, with lambda / n (ch. 3: L2 and L1 regularisation)."""
    return REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, n)


@partial(jax.jit, static_argnums=0)
def evaluate(network, params, x, labels, y):
    """(the number of examples whose highest output is the label, the sum of their costs C_x).

    An argmax tie goes to the first index, as in the reference. The caller divides by the data
    set's size and adds the regulariser's term (network2's total_cost).
    """
    z, a = infer(network, params, x)
    return jnp.count_nonzero(jnp.argmax(a, axis=1) == labels), jnp.sum(network.cost.fn(z, a, y))


@partial(jax.jit, static_argnums=0)
def predict(network, params, x):
    """The class each example is put in: the index of its highest output (ch. 1: "the index of whichever
    neuron in the final layer has the highest activation"); a tie goes to the first index, as in the reference."""
    return jnp.argmax(infer(network, params, x)[1], axis=1)
