"""A port whose conv input gradient reshapes the kernel's (filters, channels) axes to (channels, filters)
where a transpose belongs: the flipped kernel w[:, :, ::-1, ::-1].reshape(channels, filters, kh, kw), so
each input channel takes weights of other filters and channels.

The shapes come out right (the reason the slip survives), and dC/dW and dC/db of every conv layer are
right; the delta each passes down is not. `nndl conform --explain` must name the input gradient, and the
channel axis, from the layers below.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.layers import ConvPool
from tests.broken_conv_support import with_conv_layer

NAME = "convchannelbug"


def input_gradient(delta, w, input_shape):
    """The full correlation of delta with the flipped kernel; the bug: its axes reshaped, not transposed."""
    rows, cols = w.shape[2] - 1, w.shape[3] - 1
    padded = np.pad(delta, ((0, 0), (0, 0), (rows, rows), (cols, cols)))
    windows = sliding_window_view(padded, w.shape[2:], axis=(2, 3))  # (m, filters, H, W, kh, kw)
    kernel = w[:, :, ::-1, ::-1].reshape(w.shape[1], w.shape[0], *w.shape[2:])  # the bug
    return np.einsum("nfabpq,cfpq->ncab", windows, kernel)


class ReshapedChannels(ConvPool):
    def backward(self, params, cache, delta, to_input):
        """The reference's dC/dW and dC/db; dC/dx from the port's input_gradient."""
        grads, _ = super().backward(params, cache, delta, False)
        if not to_input:
            return grads, None
        x, correlation, pooled = cache
        return grads, input_gradient(self.pool.backward(correlation, pooled, delta), params[0], x.shape)


Model = with_conv_layer(ReshapedChannels)
