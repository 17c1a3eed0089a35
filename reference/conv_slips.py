"""Slips in backprop through a conv-pool layer, chapter 6's problem: the reference's gradient with one made.

`nndl conform --explain` tests a hypothesis about a failing port of a chapter 6 net against the
numbers: if the reference, with one slip made in every conv-pool layer, computes the port's gradient
(to the gradient check's bound), the port made that slip. Each slip is a known way to get the problem
wrong that still gives arrays of the right shapes:
- "unflipped kernel": the input gradient, dC/dx = delta full-correlated with the kernel, without
  flipping the kernel in its two spatial axes (BP2 for shared weights);
- "channels reshaped": the input gradient with the kernel's (filters, channels) axes reshaped to
  (channels, filters) instead of transposed, so that each channel takes other filters' weights;
- "max-pool place transposed": max-pooling's gradient sent to the window's entry (q, p) where the
  maximum sits at (p, q);
- "max-pool first place": max-pooling's gradient sent to each window's first entry, wherever its
  maximum is;
- "L2-pool zero windows NaN": L2 pooling's dC/du = dC/dpooled * u / pooled without the spec's 0 at
  an all-zero window, where it is 0/0.
- "weight gradient flipped": dC/dW of the shared kernel (BP4) flipped in its two spatial axes, as
  the input gradient flips the kernel;
- "weight gradient transposed": dC/dW with its rows and columns exchanged.
The regulariser's term is added to the slipped dC/dW as the reference adds it to its own.

It is the reference's alone (torch_impl and jax_impl have no conv_slips.py): it reads the reference's
own hand-written backprop (layers.py, pooling.py), which autograd and jax.grad leave out.
"""

from __future__ import annotations

import numpy as np

from .convolution import correlate
from .network import Network, gradients
from .pooling import _unwindows, _windows

SLIPS = (
    "weight gradient flipped",
    "weight gradient transposed",
    "unflipped kernel",
    "channels reshaped",
    "max-pool place transposed",
    "max-pool first place",
    "L2-pool zero windows NaN",
)


def gradients_with_slip(spec, params, x, y, masks, n: int, slip: str):
    """The reference's gradient of the batch's regularised mean cost (in the spec's dtype) with `slip`
    (one of SLIPS) made in every conv-pool layer it applies to."""
    if slip not in SLIPS:
        raise ValueError(f"no slip {slip!r}: one of {', '.join(SLIPS)}")
    network = Network(spec.network)
    for index, (layer, built) in enumerate(zip(spec.network.layers, network.layers)):
        if layer.type != "conv":
            continue
        if slip in ("unflipped kernel", "channels reshaped") or slip.startswith("weight gradient"):
            network.layers[index] = _SlippedBackward(built, slip)
        elif slip.startswith("max-pool") and layer.pooling == "max":
            built.pool = _SlippedMaxPool(built.pool, slip)
        elif slip.startswith("L2-pool") and layer.pooling == "l2":
            built.pool = _NanAtZeroWindows(built.pool)
    dtype = np.dtype(spec.training.dtype)
    params = [(w.astype(dtype), b.astype(dtype)) for w, b in params]
    x = np.asarray(x, dtype=dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        return gradients(network, spec.training, params, x, np.asarray(y, dtype=dtype), masks, n)


class _SlippedBackward:
    """A conv-pool layer that is the reference's, but for its weight gradient or the kernel its input gradient
    correlates with."""

    def __init__(self, layer, slip: str):
        self.layer, self.slip = layer, slip

    def __getattr__(self, name):
        return getattr(self.layer, name)

    def backward(self, params, cache, delta, to_input):
        """The reference's dC/dW, dC/db and dC/dx, one of them slipped."""
        (grad_w, grad_b), input_gradient = self.layer.backward(params, cache, delta, to_input)
        if self.slip == "weight gradient flipped":
            grad_w = grad_w[:, :, ::-1, ::-1]
        elif self.slip == "weight gradient transposed":
            grad_w = grad_w.transpose(0, 1, 3, 2)
        elif to_input:
            input_gradient = self._input_gradient(params[0], cache, delta)
        return (grad_w, grad_b), input_gradient

    def _input_gradient(self, w, cache, delta):
        """dC/dx: delta sent back through the pooling, padded, and correlated with the slipped kernel."""
        _, correlation, pooled = cache
        correlation_delta = self.layer.pool.backward(correlation, pooled, delta)
        rows, cols = w.shape[2] - 1, w.shape[3] - 1
        padded = np.pad(correlation_delta, ((0, 0), (0, 0), (rows, rows), (cols, cols)))
        if self.slip == "unflipped kernel":
            kernel = w.transpose(1, 0, 2, 3)
        else:
            kernel = w[:, :, ::-1, ::-1].reshape(w.shape[1], w.shape[0], *w.shape[2:])
        return correlate(padded, kernel)


class _SlippedMaxPool:
    """Max-pooling whose forward pass is the pool's own and whose gradient goes to another entry of each window."""

    def __init__(self, pool, slip: str):
        self.pool, self.slip = pool, slip

    def fn(self, u):
        return self.pool.fn(u)

    def backward(self, u, pooled, grad):
        places = np.zeros_like(_windows(u, self.pool.size), dtype=bool)  # (size * size, m, c, rows, columns)
        if self.slip == "max-pool first place":
            places[0] = True
        else:
            size = self.pool.size
            maxima = self.pool.backward(u, pooled, np.ones_like(grad)) != 0
            for place, chosen in enumerate(_windows(maxima, size)):
                p, q = divmod(place, size)
                places[q * size + p] |= chosen
        return _unwindows(places * grad, u.shape, self.pool.size)


class _NanAtZeroWindows:
    """L2 pooling whose gradient is dC/dpooled * u / pooled everywhere: 0/0, NaN, in an all-zero window."""

    def __init__(self, pool):
        self.pool = pool

    def fn(self, u):
        return self.pool.fn(u)

    def backward(self, u, pooled, grad):
        return _unwindows(_windows(u, self.pool.size) * (grad / pooled), u.shape, self.pool.size)
