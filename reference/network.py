"""The network: the forward pass and backpropagation, BP1-BP4, vectorised over a mini-batch.

Rows are examples: x has shape (m, n_in), and a layer computes z = x W^T + b with W of shape
(n_out, n_in), the canonical layout. `masks` holds, per layer, the dropout keep-mask of that
layer's input for these examples (None where the layer has no dropout).
"""

import numpy as np

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
            wx *= 1.0 - layer.dropout
        z = wx + b
        a = ACTIVATIONS[layer.activation].fn(z)
    return z, a


def backprop(network, params, x, y, masks):
    """The gradient of the batch's mean cost C = (1/m) sum_x C_x, layer by layer: [(dC/dW, dC/db)].

    Dividing delta^L by m once makes every gradient below that of the mean cost, because
    BP2-BP4 are linear in delta.
    """
    layer_inputs, zs, activations = _forward(network, params, x, masks)
    delta = COSTS[network.cost].delta(zs[-1], activations[-1], y) / len(x)  # BP1
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = (delta.T @ layer_inputs[l], delta.sum(axis=0))  # BP4: dC/dW = delta a^T; BP3: dC/db = delta
        if l > 0:
            delta = delta @ params[l][0]  # BP2: (W^{l+1})^T delta^{l+1} ...
            if masks[l] is not None:
                delta *= masks[l]  # ... through the dropout mask on layer l+1's input ...
            sigma_prime = ACTIVATIONS[network.layers[l - 1].activation].prime(zs[l - 1], activations[l - 1])
            delta *= sigma_prime  # ... * sigma'(z^l)
    return grads


def _forward(network, params, x, masks):
    """The training-time forward pass, keeping what backprop needs: each layer's (masked) input, z and a."""
    layer_inputs, zs, activations = [], [], []
    a = x
    for (w, b), layer, mask in zip(params, network.layers, masks):
        if mask is not None:
            a = a * mask
        z = a @ w.T + b
        layer_inputs.append(a)
        zs.append(z)
        a = ACTIVATIONS[layer.activation].fn(z)
        activations.append(a)
    return layer_inputs, zs, activations


def weighted_inputs(network, params, x, masks):
    """z^l = W^l a^(l-1) + b^l of every layer in the training-time forward pass (ch. 2), for x as rows."""
    return _forward(network, params, x, masks)[1]


def cost(network, training, params, x, y, masks, n):
    """The regularised mean cost of a batch: (1/m) sum_x C_x + the regulariser's term with lambda / n."""
    _, zs, activations = _forward(network, params, x, masks)
    data_cost = np.mean(COSTS[network.cost].fn(zs[-1], activations[-1], y))
    return data_cost + REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, n)


def gradients(network, training, params, x, y, masks, n):
    """The gradient of `cost`: backprop's, plus the regulariser's term on the weights (biases have none)."""
    regularizer = REGULARIZERS[training.regularizer]
    return [
        (grad_w + regularizer.gradient(w, training.lmbda, n), grad_b)
        for (w, _), (grad_w, grad_b) in zip(params, backprop(network, params, x, y, masks))
    ]


def evaluate(network, training, params, x, labels):
    """(the number of examples whose highest output is the label, the data set's total cost).

    The total cost follows network2: the mean per-example cost plus the regulariser's term with
    n = the size of this data set. An argmax tie goes to the first index.
    """
    correct, cost_sum = 0, 0.0
    cost_fn = COSTS[network.cost].fn
    for start in range(0, len(x), EVALUATION_CHUNK):
        chunk_x, chunk_labels = x[start : start + EVALUATION_CHUNK], labels[start : start + EVALUATION_CHUNK]
        with np.errstate(over="ignore"):  # e^-z of a saturated sigmoid: see Sigmoid.fn
            z, a = _inference(network, params, chunk_x)
        correct += int(np.count_nonzero(a.argmax(axis=1) == chunk_labels))
        cost_sum += float(np.sum(cost_fn(z, a, one_hot(chunk_labels, a.shape[1], a.dtype))))
    penalty = REGULARIZERS[training.regularizer].penalty([w for w, _ in params], training.lmbda, len(x))
    return correct, cost_sum / len(x) + penalty


def one_hot(labels, n_classes, dtype):
    """The desired output y(x): 1 at the label, 0 elsewhere."""
    y = np.zeros((len(labels), n_classes), dtype=dtype)
    y[np.arange(len(labels)), labels] = 1
    return y
