"""A port whose conv weight gradient comes out flipped: dC/dw[f,c,p,q] = sum_{n,i,j} delta[n,f,i,j]
x[n,c,i+kh-1-p,j+kw-1-q], where ch. 6's backprop problem (BP4 for a shared kernel) has x[n,c,i+p,j+q].

The slip of a learner who flips the kernel's gradient as the input gradient flips the kernel. dC/db and
the delta passed down are right. `nndl conform --explain` must name the weight gradient, flipped.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from reference.layers import ConvPool
from tests.broken_conv_support import with_conv_layer

NAME = "convweightbug"


def weight_gradient(x, delta, kernel_shape):
    """Each position's error times the input window it saw, summed; the bug: the sum flipped."""
    windows = sliding_window_view(x, kernel_shape[2:], axis=(2, 3))  # (m, c, H', W', kh, kw)
    return np.einsum("nfij,ncijpq->fcpq", delta, windows)[:, :, ::-1, ::-1]


class FlippedWeightGradient(ConvPool):
    def backward(self, params, cache, delta, to_input):
        """The reference's dC/db and dC/dx; dC/dW from the port's weight_gradient."""
        (_, grad_b), input_gradient = super().backward(params, cache, delta, to_input)
        x, correlation, pooled = cache
        grad_w = weight_gradient(x, self.pool.backward(correlation, pooled, delta), params[0].shape)
        return (grad_w, grad_b), input_gradient


Model = with_conv_layer(FlippedWeightGradient)
