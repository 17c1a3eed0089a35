"""The valid cross-correlation of a convolutional layer (ch. 6), as a jax.lax primitive.

Arrays are NCHW: x is (m, channels, H, W), the kernels w are (filters, channels, kh, kw).
Backprop through a convolutional layer is left to the reader as a problem in chapter 6
('Problem: backpropagation in a convolutional network'). jax.grad solves it from the
convolution's transpose rules, so unlike reference/convolution.py there is no `weight_gradient`
(dC/dw) or `input_gradient` (dC/dx): they are what jax.grad derives.
"""

import jax


def correlate(x, w):
    """y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q], the valid cross-correlation
    (ch. 6, 'local receptive fields' and 'shared weights'): (m, filters, H-kh+1, W-kw+1).

    network3's Theano conv2d flips the kernel (a true convolution); every framework here computes
    cross-correlation. A flipped kernel learns the same network. Precision.HIGHEST keeps a GPU
    from rounding float32 operands to TF32 or bfloat16.
    """
    return jax.lax.conv_general_dilated(
        x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=jax.lax.Precision.HIGHEST
    )
