"""The layers a network is a chain of, each with its forward pass and its part of backprop.

Rows are examples. A layer's `forward` returns its weighted input z, its activation a and
what its backward pass needs (the cache). Backprop runs through the chain from the output
error delta^L (BP1) back, and each layer does its share:
- `backward`: dC/dW and dC/db from the layer's delta (BP4 and BP3), and dC/d(input) = W^T delta,
  the first half of BP2;
- `delta`: the second half of BP2, delta^l = dC/da^l * sigma'(z^l).
"""

from .activations import ACTIVATIONS
from .convolution import correlate, input_gradient, weight_gradient
from .pooling import POOLS


class Dense:
    """A fully connected layer, z = W x + b and a = sigma(z) (ch. 1, eq. 25), whose input may be
    dropped out (network3's way: a keep-mask on the input, no rescaling)."""

    def __init__(self, layer, input_shape):
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


class ConvPool:
    """network3's convolutional-pooling layer (ch. 6): z = pool(W * x) + b and a = sigma(z), with
    W * x the valid cross-correlation of the input with each filter, pooling over non-overlapping
    windows, and one bias per filter."""

    def __init__(self, layer, input_shape):
        self.activation = ACTIVATIONS[layer.activation]
        self.pool = POOLS[layer.pooling](layer.pool, layer.ties)
        self.input_shape = input_shape  # (channels, rows, columns): a flat MNIST row becomes (1, 28, 28)

    def forward(self, params, x, mask):
        """Training (a conv layer has no dropout: mask is None); returns (z, a, cache)."""
        w, b = params
        x = x.reshape(len(x), *self.input_shape)
        correlation = correlate(x, w)
        pooled = self.pool.fn(correlation)
        z = pooled + b[:, None, None]
        return z, self.activation.fn(z), (x, correlation, pooled)

    def infer(self, params, x):
        """Inference: the same as training, a conv layer having no dropout; returns (z, a)."""
        z, a, _ = self.forward(params, x, None)
        return z, a

    def backward(self, params, cache, delta, to_input):
        """Backprop through a conv-pool layer, which the book leaves as a problem in chapter 6.

        delta = dC/dz goes back through the pooling to the correlation (max: to the window's
        maximum, by the tie rule; L2: delta u / pooled); then BP4 for a shared kernel: dC/dW sums
        delta times the input window over every example and position; BP3: dC/db sums delta over
        every position of its filter; and, if `to_input`, BP2's first half: dC/dx is the full
        cross-correlation of that delta with the flipped kernel.
        """
        x, correlation, pooled = cache
        w = params[0]
        correlation_delta = self.pool.backward(correlation, pooled, delta)
        grads = (weight_gradient(x, correlation_delta, w.shape), delta.sum(axis=(0, 2, 3)))
        if not to_input:
            return grads, None
        return grads, input_gradient(correlation_delta, w, x.shape)

    def delta(self, output_gradient, z, a):
        """BP2's second half: delta^l = dC/da^l * sigma'(z^l), z being pool(W * x) + b."""
        return output_gradient * self.activation.prime(z, a)


LAYERS = {"dense": Dense, "conv": ConvPool}
