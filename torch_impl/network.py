"""The network as torch.nn.Modules, and its gradient by autograd.

Rows are examples: x has shape (m, n_in), and a layer computes z = x W^T + b with W of shape
(n_out, n_in), the canonical layout (torch.nn.functional.linear's own). `masks` holds, per
layer, the dropout keep-mask of that layer's input for these examples (None where the layer
has no dropout). Where reference/network.py writes out BP1-BP4, this file calls autograd.
"""

import torch
from torch import nn
from torch.nn import functional as F

from .activations import ACTIVATIONS
from .costs import COSTS
from .regularizers import REGULARIZERS

EVALUATION_CHUNK = 10_000  # rows per forward pass when evaluating, to bound memory


class Dense(nn.Module):
    """A fully connected layer a = sigma(W x + b), whose input may be dropped out (network3's way)."""

    def __init__(self, layer, weight, bias):
        super().__init__()
        self.weight, self.bias = nn.Parameter(weight), nn.Parameter(bias)
        self.activation, self.dropout = ACTIVATIONS[layer.activation], layer.dropout

    def forward(self, x, mask):
        """Training: z = W (x * mask) + b, with mask None where the layer has no dropout; returns (z, a)."""
        if mask is not None:
            x = x * mask
        z = F.linear(x, self.weight, self.bias)
        return z, self.activation.fn(z)

    def infer(self, x):
        """Inference, where a dropout layer scales W x by (1 - p) instead of masking; returns (z, a)."""
        wx = F.linear(x, self.weight)
        if self.dropout:
            wx = wx * (1.0 - self.dropout)
        z = wx + self.bias
        return z, self.activation.fn(z)


class Network(nn.Module):
    """A spec's network (conformance.spec.Network) with its parameters as torch tensors."""

    def __init__(self, network, params, dtype, device):
        super().__init__()
        self.cost = network.cost
        self.layers = nn.ModuleList(
            Dense(layer, torch.tensor(w, dtype=dtype, device=device), torch.tensor(b, dtype=dtype, device=device))
            for layer, (w, b) in zip(network.layers, params)
        )
        # [W0, b0, W1, b1, ...], listed once: self.parameters() walks the modules and names every
        # parameter on each call, which costs ~4% of a step at mini-batch 10.
        self.parameter_list = [t for layer in self.layers for t in (layer.weight, layer.bias)]

    def forward(self, x, masks):
        """The training-time forward pass: the output layer's z and a."""
        a = x
        for layer, mask in zip(self.layers, masks):
            z, a = layer(a, mask)
        return z, a

    def infer(self, x):
        """The inference forward pass: the output layer's z and a."""
        a = x
        for layer in self.layers:
            z, a = layer.infer(a)
        return z, a

    def parameter_pairs(self):
        """[(W, b), ...] layer by layer, the canonical layout."""
        return [(layer.weight, layer.bias) for layer in self.layers]

    def weights(self):
        return [layer.weight for layer in self.layers]


def feedforward(network, x):
    """The output a^L for inputs x at inference (a^l = sigma(W^l a^(l-1) + b^l), layer by layer)."""
    with torch.no_grad():
        return network.infer(x)[1]


def backprop(network, x, y, masks):
    """The gradient of the batch's mean cost C = (1/m) sum_x C_x, layer by layer: [(dC/dW, dC/db)].

    BP1-BP4 are what autograd's backward pass computes, from the end of the forward pass back.
    """
    z, a = network(x, masks)
    mean_cost = torch.mean(COSTS[network.cost].fn(z, a, y))
    return _pairs(torch.autograd.grad(mean_cost, network.parameter_list))


def cost(network, training, x, y, masks, n):
    """The regularised mean cost of a batch: (1/m) sum_x C_x + the regulariser's term with lambda / n."""
    z, a = network(x, masks)
    data_cost = torch.mean(COSTS[network.cost].fn(z, a, y))
    return data_cost + REGULARIZERS[training.regularizer].penalty(network.weights(), training.lmbda, n)


def gradients(network, training, x, y, masks, n):
    """The gradient of `cost`, regulariser's term included, by autograd."""
    return _pairs(torch.autograd.grad(cost(network, training, x, y, masks, n), network.parameter_list))


def evaluate(network, training, x, labels):
    """(the number of examples whose highest output is the label, the data set's total cost).

    The total cost follows network2: the mean per-example cost plus the regulariser's term with
    n = the size of this data set. An argmax tie goes to the first index, as in the reference.
    """
    correct, cost_sum = 0, 0.0
    cost_fn = COSTS[network.cost].fn
    with torch.no_grad():
        for start in range(0, len(x), EVALUATION_CHUNK):
            chunk_x, chunk_labels = x[start : start + EVALUATION_CHUNK], labels[start : start + EVALUATION_CHUNK]
            z, a = network.infer(chunk_x)
            correct += int(torch.count_nonzero(torch.argmax(a, dim=1) == chunk_labels))
            cost_sum += float(torch.sum(cost_fn(z, a, one_hot(chunk_labels, a.shape[1], a.dtype))))
        penalty = REGULARIZERS[training.regularizer].penalty(network.weights(), training.lmbda, len(x))
    return correct, cost_sum / len(x) + float(penalty)


def one_hot(labels, n_classes, dtype):
    """The desired output y(x): 1 at the label, 0 elsewhere."""
    return F.one_hot(labels, n_classes).to(dtype)


def _pairs(flat):
    """[W0, b0, W1, b1, ...] -> [(W0, b0), (W1, b1), ...]."""
    return list(zip(flat[0::2], flat[1::2]))
