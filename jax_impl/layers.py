"""The layers a network is a chain of, as pure functions of their parameters: the forward pass only.

Rows are examples. A layer's `forward` takes its parameters (W, b) and returns its weighted
input z and its activation a. Where reference/layers.py writes out each layer's part of
backprop (BP2-BP4: `parameter_gradients`, `input_gradient`, `delta`), jax.grad derives it
from the forward pass.
"""

from .activations import ACTIVATIONS


class Dense:
    """A fully connected layer, z = W x + b and a = sigma(z) (ch. 1, eq. 25), whose input may be
    dropped out (network3's way: a keep-mask on the input, no rescaling)."""

    def __init__(self, layer):
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


LAYERS = {"dense": Dense}
