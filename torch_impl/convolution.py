"""The valid cross-correlation of a convolutional layer (ch. 6), as a PyTorch operation.

Arrays are NCHW: x is (m, channels, H, W), the kernels w are (filters, channels, kh, kw).
Backprop through a convolutional layer is left to the reader as a problem in chapter 6
('Problem: backpropagation in a convolutional network'). Autograd solves it from conv2d's
backward rule, so unlike reference/convolution.py there is no `weight_gradient` (dC/dw) or
`input_gradient` (dC/dx): they are what autograd derives. There is no `correlate_in_scan`: that
is JAX's way around XLA's slow convolution inside a compiled loop, and torch's epoch is a Python
loop of calls to conv2d's own kernels.
"""

import torch.nn.functional as F


def correlate(x, w):
    """y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q], the valid cross-correlation
    (ch. 6, 'local receptive fields' and 'shared weights'): (m, filters, H-kh+1, W-kw+1).

    network3's Theano conv2d flips the kernel (a true convolution); every framework here computes
    cross-correlation. A flipped kernel learns the same network.
    """
    return F.conv2d(x, w)
