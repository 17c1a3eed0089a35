"""The valid cross-correlation of a convolutional layer (ch. 6), and backprop through it.

Arrays are NCHW: x is (m, channels, H, W), the kernels w are (filters, channels, kh, kw).
Backprop through a convolutional layer is left to the reader as a problem in chapter 6
('Problem: backpropagation in a convolutional network'); it is solved here by
`weight_gradient` (dC/dw) and `input_gradient` (dC/dx), both cross-correlations again.

No Python loop visits a pixel: sliding_window_view sees every kh x kw window of x without
copying, and one tensordot sums over channels and kernel (NumPy copies the windows into one
matrix, im2col, and BLAS multiplies it by the kernels). There is no `correlate_in_scan`: that is
JAX's way around XLA's slow convolution inside a compiled loop, and NumPy compiles no loop.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def correlate(x, w):
    """y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q], the valid cross-correlation
    (ch. 6, 'local receptive fields' and 'shared weights'): (m, filters, H-kh+1, W-kw+1).

    network3's Theano conv2d flips the kernel (a true convolution); every framework here computes
    cross-correlation. A flipped kernel learns the same network.
    """
    # measured on (10,1,28,28)x(20,1,5,5) and (10,20,12,12)x(40,20,5,5), float32 and float64, one thread:
    # tensordot(w, windows) 1.2-1.5x faster than tensordot(windows, w), 1.05-3x than einsum(optimize=True),
    # 10-50x than plain einsum
    windows = sliding_window_view(x, w.shape[2:], axis=(2, 3))  # (m, c, H', W', kh, kw), a view
    return np.tensordot(w, windows, axes=((1, 2, 3), (1, 4, 5))).transpose(1, 0, 2, 3)


def weight_gradient(x, delta, kernel_shape):
    """dC/dw[f,c,p,q] = sum_{n,i,j} delta[n,f,i,j] x[n,c,i+p,j+q] (ch. 6's backprop problem, BP4 for
    shared weights): every position's error times the input window it saw, summed over examples
    and positions. delta is dC/dy, (m, filters, H', W'); the result has kernel_shape.
    """
    windows = sliding_window_view(x, kernel_shape[2:], axis=(2, 3))  # (m, c, H', W', kh, kw)
    return np.tensordot(delta, windows, axes=((0, 2, 3), (0, 2, 3)))


def input_gradient(delta, w, input_shape):
    """dC/dx[n,c,a,b] = sum_{f,p,q} delta[n,f,a-p,b-q] w[f,c,p,q] (ch. 6's backprop problem, BP2 for
    shared weights): the full cross-correlation of delta with the flipped kernel.

    delta, padded with kh-1 rows and kw-1 columns of zeros on each side, is correlated with w
    flipped in both spatial axes, its filters and channels swapped; that gives input_shape.
    """
    rows, cols = input_shape[2] - delta.shape[2], input_shape[3] - delta.shape[3]  # kh - 1, kw - 1
    padded = np.pad(delta, ((0, 0), (0, 0), (rows, rows), (cols, cols)))
    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (channels, filters, kh, kw)
    return correlate(padded, flipped)
