"""The valid cross-correlation of a convolutional layer (ch. 6), as a jax.lax primitive or a matrix product.

Arrays are NCHW: x is (m, channels, H, W), the kernels w are (filters, channels, kh, kw).
Backprop through a convolutional layer is left to the reader as a problem in chapter 6
('Problem: backpropagation in a convolutional network'). jax.grad solves it from the
transpose rules of what the correlation is made of, so unlike reference/convolution.py there is
no `weight_gradient` (dC/dw) or `input_gradient` (dC/dx): they are what jax.grad derives.

Why two ways: XLA's fast CPU convolution (Eigen's) takes one layout only, NHWC with HWIO
kernels. At the top level of a jitted function XLA rewrites every convolution into it, the two
that jax.grad adds included; inside a lax.scan (a while loop) it does not, and the convolutions
it leaves are compiled as plain loop nests. A training epoch is one scan, where the primitive
costs 3 times what the same step does jitted on its own (measured on ch6-conv2-relu); written
NHWC, the forward convolutions run fast there but the gradient ones still do not. So training
steps correlate by a matrix product (im2col), fast anywhere, and evaluation, a jitted call per
chunk of examples, by the primitive, which is 2-3 times faster than the product there.
"""

import jax
import jax.numpy as jnp
from jax import lax


def correlate(x, w):
    """y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q], the valid cross-correlation
    (ch. 6, 'local receptive fields' and 'shared weights'): (m, filters, H-kh+1, W-kw+1).

    network3's Theano conv2d flips the kernel (a true convolution); every framework here computes
    cross-correlation. A flipped kernel learns the same network. Precision.HIGHEST keeps a GPU
    from rounding float32 operands to TF32 or bfloat16.
    """
    return lax.conv_general_dilated(
        x, w, (1, 1), "VALID", dimension_numbers=("NCHW", "OIHW", "NCHW"), precision=lax.Precision.HIGHEST
    )


def correlate_in_scan(x, w):
    """The same correlation, for a training step inside a lax.scan: on the CPU a matrix product (im2col),
    elsewhere `correlate` (a GPU's convolutions are fast in a loop too).

    The kh * kw shifted copies of x are stacked into (m, c kh kw, H' W') columns, and the kernels,
    flattened to (f, c kh kw), multiply each example's. For a first layer (one channel, 25 terms)
    every output is then the reference's tensordot's sum, bitwise in float64
    (tests/test_convolution.py), so the windows MNIST's plateaus of equal pixels tie stay tied
    there (the tie rule "all" depends on it); deeper layers' sums differ in the last bit, where
    nonzero ties are rare. Stacking slices (not a gather) keeps jax.grad's transpose cheap: a sum of
    padded slices. One (c kh kw, m H' W') matrix for the whole mini-batch was 30% faster, but its
    sums round differently from position to position, and one epoch of a conv net with network3's
    tie rule ended 7e-3 away from the reference's (float64): a first layer's tie broken by one ulp
    sends a window's gradient to one maximum instead of all of them.
    """
    if jax.default_backend() != "cpu":
        return correlate(x, w)
    filters, channels, kh, kw = w.shape
    rows, cols = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    shifted = [x[:, :, p : p + rows, q : q + cols] for p in range(kh) for q in range(kw)]
    columns = jnp.stack(shifted, axis=2).reshape(len(x), channels * kh * kw, rows * cols)
    y = jnp.einsum("fk,mkp->mfp", w.reshape(filters, -1), columns, precision=lax.Precision.HIGHEST)
    return y.reshape(len(x), filters, rows, cols)
