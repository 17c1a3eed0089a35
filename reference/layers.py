"""The layers a network is a chain of, each with its forward pass and its part of backprop.

Rows are examples. A layer's `forward` returns its weighted input z, its activation a and
what its backward pass needs (the cache). Backprop runs through the chain from the output
error delta^L (BP1) back, and each layer does its share:
- `backward`: dC/dW and dC/db from the layer's delta (BP4 and BP3), and dC/d(input) = W^T delta,
  the first half of BP2;
- `delta`: the second half of BP2, delta^l = dC/da^l * sigma'(z^l).
"""

from .activations import ACTIVATIONS


class Dense:
    """A fully connected layer, z = W x + b and a = sigma(z) (ch. 1, eq. 25), whose input may be
    dropped out (network3's way: a keep-mask on the input, no rescaling)."""

    def __init__(self, layer):
        self.activation, self.dropout = ACTIVATIONS[layer.activation], layer.dropout

    def forward(self, params, x, mask):
        """Training: z = W (x * mask) + b, x flattened per example; returns (z, a, cache)."""
        w, b = params
        layer_input = x.reshape(len(x), -1)
        if mask is not None:
            layer_input = layer_input * mask
        z = layer_input @ w.T + b
        return z, self.activation.fn(z), (layer_input, mask, x.shape)

    def infer(self, params, x):
        """Inference, where a dropout layer scales W x by (1 - p) instead of masking; returns (z, a)."""
        w, b = params
        wx = x.reshape(len(x), -1) @ w.T
        if self.dropout:
            wx *= 1.0 - self.dropout
        z = wx + b
        return z, self.activation.fn(z)

    def backward(self, params, cache, delta, to_input):
        """BP4: dC/dW = delta a^T, summed over the batch; BP3: dC/db = delta; and, if `to_input`,
        BP2's first half: dC/dx = W^T delta, through the dropout mask, in the input's own shape."""
        layer_input, mask, input_shape = cache
        grads = (delta.T @ layer_input, delta.sum(axis=0))
        if not to_input:
            return grads, None
        input_gradient = delta @ params[0]
        if mask is not None:
            input_gradient *= mask
        return grads, input_gradient.reshape(input_shape)

    def delta(self, output_gradient, z, a):
        """BP2's second half: delta^l = dC/da^l * sigma'(z^l)."""
        return output_gradient * self.activation.prime(z, a)


LAYERS = {"dense": Dense}
