"""The layers a network is a chain of, as pure functions of their parameters: the forward pass only.

Rows are examples. A layer's `forward` takes its parameters (W, b) and returns its weighted input z
and its activation a. Where reference/layers.py writes out each layer's part of backprop (BP2-BP4:
`backward` and `delta`), jax.grad derives it from the forward pass.
"""

from .activations import ACTIVATIONS
from .convolution import correlate, correlate_in_scan
from .pooling import POOLS


class Dense:
    """A fully connected layer, z = W x + b and a = sigma(z) (ch. 1, eq. 25), whose input may be
    dropped out (network3's way: a keep-mask on the input, no rescaling)."""

    def __init__(self, layer, input_shape):
        self.activation, self.dropout = ACTIVATIONS[layer.activation], layer.dropout

    def forward(self, params, x, mask):
        """Training: z = W (x * mask) + b, x flattened per example; returns (z, a)."""
        w, b = params
        layer_input = x.reshape(len(x), -1)
        if mask is not None:
            layer_input = layer_input * mask
        z = layer_input @ w.T + b
        return z, self.activation.fn(z)

    def infer(self, params, x):
        """Inference, where a dropout layer scales W x by (1 - p) instead of masking; returns (z, a)."""
        w, b = params
        wx = x.reshape(len(x), -1) @ w.T
        if self.dropout:
            wx = wx * (1.0 - self.dropout)
        z = wx + b
        return z, self.activation.fn(z)


class ConvPool:
    """network3's convolutional-pooling layer (ch. 6): z = pool(W * x) + b and a = sigma(z), with
    W * x the valid cross-correlation of the input with each filter, pooling over non-overlapping
    windows, and one bias per filter."""

    def __init__(self, layer, input_shape):
        self.activation = ACTIVATIONS[layer.activation]
        self.pool = POOLS[layer.pooling](layer.pool, layer.ties)
        self.input_shape = input_shape  # (channels, rows, columns): a flat MNIST row becomes (1, 28, 28)

    def forward(self, params, x, mask):
        """Training (a conv layer has no dropout: mask is None); returns (z, a). A step runs inside
        the epoch's lax.scan, so the correlation is the one made for it (convolution.py says why)."""
        w, b = params
        x = x.reshape(len(x), *self.input_shape)
        z = self.pool.fn(correlate_in_scan(x, w)) + b[:, None, None]
        return z, self.activation.fn(z)

    def infer(self, params, x):
        """Inference: the same z and a as training, a conv layer having no dropout; returns (z, a)."""
        w, b = params
        x = x.reshape(len(x), *self.input_shape)
        z = self.pool.fn(correlate(x, w)) + b[:, None, None]
        return z, self.activation.fn(z)


LAYERS = {"dense": Dense, "conv": ConvPool}
