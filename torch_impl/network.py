"""The network: a chain of layers (torch.nn.Modules), its forward pass, and its gradient by autograd.

Rows are examples: x has shape (m, *input shape). `params` holds (W, b) per layer in the
canonical layout, as tensors that autograd differentiates with respect to, and `masks` the
dropout keep-mask of each layer's input for these examples (None where the layer has no
dropout). Where reference/network.py writes out BP1-BP4, this file calls autograd.
"""

import torch
from torch import nn

from .costs import COSTS
from .layers import LAYERS
from .regularizers import REGULARIZERS


class Network(nn.Module):
    """A spec's network (conformance.spec.parts.Network) as this backend's layers, and its cost."""

    def __init__(self, network):
        super().__init__()
        self.layers = nn.ModuleList(
            LAYERS[layer.type](layer, shape) for layer, shape in zip(network.layers, network.layer_input_shapes)
        )
        self.cost = COSTS[network.cost]


def feedforward(network, params, x):
    """The output a^L for inputs x at inference (a^l = sigma(W^l a^(l-1) + b^l), layer by layer)."""
    with torch.no_grad():
        return infer(network, params, x)[1]


def infer(network, params, x):
    """The output layer's z and a at inference (where a dropout layer scales W x by (1 - p))."""
    a = x
    for layer, layer_params in zip(network.layers, params):
        z, a = layer.infer(layer_params, a)
    return z, a


def forward(network, params, x, masks):
    """The training-time forward pass: the output layer's z and a, recorded for autograd."""
    a = x
    for layer, layer_params, mask in zip(network.layers, params, masks):
        z, a = layer(layer_params, a, mask)
    return z, a


def backprop(network, params, x, y, masks):
    """The gradient of the batch's mean cost C = (1/m) sum_x C_x, layer by layer: [(dC/dW, dC/db)].

    BP1-BP4 are what autograd's backward pass computes, from the end of the forward pass back.
    """
    z, a = forward(network, params, x, masks)
    return _pairs(torch.autograd.grad(torch.mean(network.cost.fn(z, a, y)), _leaves(params)))


def cost(network, training, params, x, y, masks, n):
    """The regularised mean cost of a batch: (1/m) sum_x C_x + the regulariser's term with lambda / n."""
    z, a = forward(network, params, x, masks)
    return torch.mean(network.cost.fn(z, a, y)) + penalty(training, params, n)


def gradients(network, training, params, x, y, masks, n):
    """The gradient of `cost`, regulariser's term included, by autograd."""
    return _pairs(torch.autograd.grad(cost(network, training, params, x, y, masks, n), _leaves(params)))


def penalty(training, params, n):
    """The regulariser's term of the cost, with lambda / n (ch. 3: L2 and L1 regularisation)."""
    return REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, n)


def evaluate(network, params, x, labels, y):
    """(the number of examples whose highest output is the label, the sum of their costs C_x).

    An argmax tie goes to the first index, as in the reference. The caller divides by the data
    set's size and adds the regulariser's term (network2's total_cost).
    """
    with torch.no_grad():
        z, a = infer(network, params, x)
        return int(torch.count_nonzero(torch.argmax(a, dim=1) == labels)), float(torch.sum(network.cost.fn(z, a, y)))


def predict(network, params, x):
    """The class each example is put in: the index of its highest output (ch. 1: "the index of whichever
    neuron in the final layer has the highest activation"); a tie goes to the first index, as in the reference."""
    with torch.no_grad():
        return torch.argmax(infer(network, params, x)[1], dim=1)


def _leaves(params):
    """[(W0, b0), (W1, b1), ...] -> [W0, b0, W1, b1, ...]."""
    return [t for pair in params for t in pair]


def _pairs(flat):
    """[W0, b0, W1, b1, ...] -> [(W0, b0), (W1, b1), ...]."""
    return list(zip(flat[0::2], flat[1::2]))
