"""The chapter 6 exercises of `nndl exercise`: backprop through a conv-pool layer, the book's problem
('Problem: backpropagation in a convolutional network'), and L2 pooling's gradient.

Each port is the reference with its conv-pool layers built from a subclass that calls the learner's
function; the reference's own classes keep theirs (conformance/book/exercises.py says why). The hints
are --explain's for a conv layer (conformance/suite/explain_conv.py): which part broke, from the arrays
that differ and agree, and how, by the slips the reference can make (reference/conv_slips.py); a NaN
is located. The rows are gradient checks without finite differences (they would time only the
reference), a second conv layer where the function passes a delta down. exercises.py imports this module
last and adds CONV_EXERCISES to its EXERCISES: import them from there.
"""

from __future__ import annotations

from conformance.book.exercises import PORT_HEAD, Exercise

PROBLEM = "problem 'backpropagation in a convolutional network'"

SKELETON_HEAD = '''\
"""Your exercise: {title} (ch. 6, {problem}). Check it with `nndl exercise check DIR`."""

import numpy as np  # noqa: F401 (yours to use)
from numpy.lib.stride_tricks import sliding_window_view  # noqa: F401 (yours to use)
'''

INPUT_GRADIENT_SKELETON = '''
from reference.convolution import correlate  # noqa: F401 (yours to use: the forward pass's valid cross-correlation)


def input_gradient(delta, w, input_shape):
    """dC/dx, the delta a conv layer passes down to the layer below (ch. 6's backprop problem: BP2's
    first half, W^T delta, for shared weights):

        dC/dx[n,c,a,b] = sum_{f,p,q} delta[n,f,a-p,b-q] w[f,c,p,q],

    summed over the output positions (a-p, b-q) that saw input entry (a, b) through kernel entry
    (p, q); delta is 0 outside its own rows and columns. As a correlation: delta, padded with kh - 1
    rows and kw - 1 columns of zeros on each side, correlated with the kernel flipped in both
    spatial axes, its filters and channels swapped.

    The forward pass was y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q], correlate(x, w): x is
    (m, channels, H, W) and w (filters, channels, kh, kw). delta = dC/dy, (m, filters, H-kh+1, W-kw+1),
    has been sent back through the pooling already. Return an array of input_shape, (m, channels, H, W).
    """
    raise NotImplementedError
'''

WEIGHT_GRADIENT_SKELETON = '''

def weight_gradient(x, delta, kernel_shape):
    """dC/dw, the gradient of a conv layer's shared kernel (ch. 6's backprop problem: BP4 for shared
    weights):

        dC/dw[f,c,p,q] = sum_{n,i,j} delta[n,f,i,j] x[n,c,i+p,j+q],

    every output position's error times the input entry that kernel entry (p, q) saw there, summed
    over the examples and the positions.

    The forward pass was y[n,f,i,j] = sum_{c,p,q} x[n,c,i+p,j+q] w[f,c,p,q]: x is (m, channels, H, W).
    delta = dC/dy, (m, filters, H-kh+1, W-kw+1), has been sent back through the pooling already and is
    of the mini-batch's mean cost. Return an array of kernel_shape, (filters, channels, kh, kw); dC/db,
    the sum of the layer's delta, is done for you.
    """
    raise NotImplementedError
'''

L2_POOL_SKELETON = '''

def l2_pool_gradient(u, pooled, grad, size):
    """dC/du, L2 pooling's gradient (ch. 6, 'pooling layers'): over each size x size window,

        pooled = sqrt(sum of u^2 over the window), so dC/du = dC/dpooled * u / pooled

    for every entry u of the window, and 0 in a window whose entries are all 0: there pooled = 0 and
    the square root has no derivative, and nndl's spec defines the gradient as 0 (such windows are
    common: MNIST's blank margins give them).

    u is (m, channels, H, W); pooled and grad = dC/dpooled are (m, channels, H // size, W // size), the
    windows not overlapping. Rows and columns beyond H // size * size (a ragged border) are in no window:
    their gradient is 0. Return an array of u's shape.
    """
    raise NotImplementedError
'''

CONV_PORT_HEAD = """
import reference
from reference.layers import ConvPool
"""

CONV_PORT_MODEL = """

class Model(reference.Model):
    def __init__(self, spec, params, device="cpu"):
        super().__init__(spec, params, device)
        built = zip(spec.network.layers, spec.network.layer_input_shapes, self.network.layers)
        self.network.layers = [  # this model's network only
            YourConvPool(layer, shape) if layer.type == "conv" else same for layer, shape, same in built
        ]
"""

INPUT_GRADIENT_PORT = '''
from .exercise import input_gradient

NAME = "yours"


def supports(spec):
    """Your function runs where a conv-pool layer passes a delta down: a second conv layer."""
    return None if sum(layer.type == "conv" for layer in spec.network.layers) > 1 else "one conv layer"


class YourConvPool(ConvPool):
    def backward(self, params, cache, delta, to_input):
        """The reference's dC/dW and dC/db; dC/dx by your input_gradient."""
        grads, _ = super().backward(params, cache, delta, False)
        if not to_input:
            return grads, None
        x, correlation, pooled = cache
        return grads, input_gradient(self.pool.backward(correlation, pooled, delta), params[0], x.shape)
'''

WEIGHT_GRADIENT_PORT = '''
from .exercise import weight_gradient

NAME = "yours"


def supports(spec):
    """Your function runs in the nets with a conv-pool layer."""
    return None if any(layer.type == "conv" for layer in spec.network.layers) else "no conv-pool layer"


class YourConvPool(ConvPool):
    def backward(self, params, cache, delta, to_input):
        """The reference's dC/db and dC/dx; dC/dW by your weight_gradient."""
        (_, grad_b), input_gradient = super().backward(params, cache, delta, to_input)
        x, correlation, pooled = cache
        grad_w = weight_gradient(x, self.pool.backward(correlation, pooled, delta), params[0].shape)
        return (grad_w, grad_b), input_gradient
'''

L2_POOL_PORT = '''from reference.pooling import L2Pool

from .exercise import l2_pool_gradient

NAME = "yours"


def supports(spec):
    """Your function runs in the nets with L2 pooling."""
    pools = [layer.pooling for layer in spec.network.layers if layer.type == "conv"]
    return None if "l2" in pools else "no L2 pooling"


class YourL2Pool(L2Pool):
    def backward(self, u, pooled, grad):
        return l2_pool_gradient(u, pooled, grad, self.size)


class YourConvPool(ConvPool):
    def __init__(self, layer, input_shape):
        super().__init__(layer, input_shape)
        if layer.pooling == "l2":
            self.pool = YourL2Pool(layer.pool, layer.ties)
'''


def _conv_exercise(name, title, problem, lesson, function, skeleton, port, cases, also=()) -> Exercise:
    skeleton = SKELETON_HEAD.format(title=title, problem=problem) + skeleton
    port = PORT_HEAD.format(function=function) + CONV_PORT_HEAD + port + CONV_PORT_MODEL
    return Exercise(name, title, 6, problem, lesson, function, skeleton, port, cases, also)


CONV_EXERCISES = [
    _conv_exercise(
        "conv-input-gradient",
        "the input gradient of a conv-pool layer, with the flipped kernel",
        PROBLEM,
        "convolution",
        "input_gradient",
        INPUT_GRADIENT_SKELETON,
        INPUT_GRADIENT_PORT,
        (
            "^grad conv2 max-all tanh none no-dropout network3 float64$",
            "^grad conv2 l2 relu l1 no-dropout default float32$",
        ),
        also=("conv-layer",),
    ),
    _conv_exercise(
        "conv-weight-gradient",
        "the weight gradient of a conv-pool layer's shared kernel",
        PROBLEM,
        "convolution",
        "weight_gradient",
        WEIGHT_GRADIENT_SKELETON,
        WEIGHT_GRADIENT_PORT,
        (
            "^grad conv1 max-all sigmoid none no-dropout network3 float64$",
            "^grad conv2 max-all tanh none no-dropout network3 float64$",
        ),
        also=("conv-layer",),
    ),
    _conv_exercise(
        "l2-pool-gradient",
        "L2 pooling's gradient, with 0 at an all-zero window",
        "section 'pooling layers', L2 pooling",
        "l2-pooling",
        "l2_pool_gradient",
        L2_POOL_SKELETON,
        L2_POOL_PORT,
        ("^grad conv1 l2 tanh none no-dropout network3 float32$", "^grad conv2 l2 relu l1 no-dropout default float32$"),
    ),
]
