"""A port whose conv input gradient forgets to flip the kernel: dC/dx[n,c,a,b] = sum_{f,p,q}
delta[n,f,a-(kh-1)+p, b-(kw-1)+q] w[f,c,p,q], where ch. 6's backprop problem has w[f,c,kh-1-p,kw-1-q].

The slip of a learner who writes the input gradient as a full correlation, as the forward pass is one,
and leaves out the flip. dC/dW and dC/db of every conv layer are right; the delta each passes down is
not. `nndl conform --explain` must name the input gradient, and the missing flip, from the layers below.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.layers import ConvPool
from tests.broken_conv_support import with_conv_layer

NAME = "convflipbug"


def input_gradient(delta, w, input_shape):
    """The bug: delta, padded, correlated with the kernel as it is, not flipped."""
    rows, cols = w.shape[2] - 1, w.shape[3] - 1
    padded = np.pad(delta, ((0, 0), (0, 0), (rows, rows), (cols, cols)))
    windows = sliding_window_view(padded, w.shape[2:], axis=(2, 3))  # (m, filters, H, W, kh, kw)
    return np.einsum("nfabpq,fcpq->ncab", windows, w)


class UnflippedInputGradient(ConvPool):
    def backward(self, params, cache, delta, to_input):
        """The reference's dC/dW and dC/db; dC/dx from the port's input_gradient."""
        grads, _ = super().backward(params, cache, delta, False)
        if not to_input:
            return grads, None
        x, correlation, pooled = cache
        return grads, input_gradient(self.pool.backward(correlation, pooled, delta), params[0], x.shape)


Model = with_conv_layer(UnflippedInputGradient)
