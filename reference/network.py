"""The network: a chain of layers, its forward pass and backpropagation, BP1-BP4, vectorised over a mini-batch.

Rows are examples: x has shape (m, *input shape). `params` holds (W, b) per layer in the
canonical layout, and `masks` the dropout keep-mask of each layer's input for these examples
(None where the layer has no dropout).
"""

import numpy as np

from .costs import COSTS
from .layers import LAYERS
from .regularizers import REGULARIZERS


class Network:
    """A spec's network (conformance.spec.parts.Network) as this backend's layers, and its cost."""

    def __init__(self, network):
        self.layers = [
            LAYERS[layer.type](layer, shape) for layer, shape in zip(network.layers, network.layer_input_shapes)
        ]
        self.cost = COSTS[network.cost]


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
    """The training-time forward pass, keeping what backprop needs: each layer's z, a and cache."""
    zs, activations, caches = [], [], []
    a = x
    for layer, layer_params, mask in zip(network.layers, params, masks):
        z, a, cache = layer.forward(layer_params, a, mask)
        zs.append(z)
        activations.append(a)
        caches.append(cache)
    return zs, activations, caches


def backprop(network, params, x, y, masks):
    """The gradient of the batch's mean cost C = (1/m) sum_x C_x, layer by layer: [(dC/dW, dC/db)].

    Dividing delta^L by m once makes every gradient below that of the mean cost, because
    BP2-BP4 are linear in delta.
    """
    zs, activations, caches = forward(network, params, x, masks)
    delta = network.cost.delta(zs[-1], activations[-1], y) / len(x)  # BP1
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        # BP3 and BP4, and BP2's (W^{l+1})^T delta^{l+1} ...
        grads[l], output_gradient = network.layers[l].backward(params[l], caches[l], delta, to_input=l > 0)
        if l > 0:
            delta = network.layers[l - 1].delta(output_gradient, zs[l - 1], activations[l - 1])  # ... * sigma'(z^l)
    return grads


def cost(network, training, params, x, y, masks, n):
    """The regularised mean cost of a batch: (1/m) sum_x C_x + the regulariser's term with lambda / n."""
    zs, activations, _ = forward(network, params, x, masks)
    return np.mean(network.cost.fn(zs[-1], activations[-1], y)) + penalty(training, params, n)


def gradients(network, training, params, x, y, masks, n):
    """The gradient of `cost`: backprop's, plus the regulariser's term on the weights (biases have none)."""
    regularizer = REGULARIZERS[training.regularizer]
    return [
        (grad_w + regularizer.gradient(w, training.lmbda, n), grad_b)
        for (w, _), (grad_w, grad_b) in zip(params, backprop(network, params, x, y, masks))
    ]


def penalty(training, params, n):
    """The regulariser's term of the cost, with lambda / n (ch. 3: L2 and L1 regularisation)."""
    return REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, n)


def evaluate(network, params, x, labels, y):
    """(the number of examples whose highest output is the label, the sum of their costs C_x).

    An argmax tie goes to the first index. The caller divides by the data set's size and adds
    the regulariser's term (network2's total_cost).
    """
    z, a = infer(network, params, x)
    return int(np.count_nonzero(a.argmax(axis=1) == labels)), float(np.sum(network.cost.fn(z, a, y)))


def predict(network, params, x):
    """The class each example is put in: the index of its highest output (ch. 1: "the index of whichever
    neuron in the final layer has the highest activation"); a tie goes to the first index."""
    return infer(network, params, x)[1].argmax(axis=1)
