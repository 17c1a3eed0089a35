"""Max-pool near ties: windows where the order of a convolution's sums decides the maximum.

In float32, two entries of a max-pool window can lie a few ulps apart (in the 2,000-image
ch6-conv2-relu run, at step 44, 8 ulps at 0.25). A convolution that sums in another order, as
oneDNN's kernels do, can then put the other entry on top, and the window's gradient goes to
another place: two correct implementations part there, and training amplifies it. `nndl conform
--explain` uses this module to tell such a rounding event from an error: it finds the reference's
near ties at the step where two runs part, and shows that sending one window's gradient to its
runner-up turns the reference's gradient into the other backend's.

It is the reference's alone (torch_impl and jax_impl have no ties.py): it reads the reference's
own forward pass and backprop (network.py), which every other backend is compared with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Network, forward, gradients
from .pooling import _windows

NEAR_TIE_ULPS = 16  # a window's two largest entries at most this many ulps (of the largest) apart


@dataclass(frozen=True)
class NearTie:
    """One max-pool window of one example whose two largest entries are near, and where they sit."""

    layer: int  # 1 for the first layer with weights
    example: int  # in the mini-batch
    filter: int
    row: int  # the window's place in the pooled map
    column: int
    ulps: float  # the gap between the two largest entries, in ulps of the largest
    first: int  # the largest entry's place in the window, row-major
    second: int  # the second largest's

    def describe(self) -> str:
        return (
            f"layer {self.layer}, example {self.example + 1} of the mini-batch, filter {self.filter + 1}, "
            f"window ({self.row}, {self.column}): its two largest entries {self.ulps:.0f} ulps apart"
        )


def near_ties(spec, params, x, masks) -> list[NearTie]:
    """The max-pool windows of the reference's forward pass on a batch (in the spec's dtype) whose two
    largest entries differ by at least one ulp and at most NEAR_TIE_ULPS."""
    params, x = _in_dtype(spec, params, x)
    _, _, caches = forward(Network(spec.network), params, x, masks)
    found = []
    for index, (layer, cache) in enumerate(zip(spec.network.layers, caches)):
        if layer.type != "conv" or layer.pooling != "max":
            continue
        windows = _windows(cache[1], layer.pool)  # (pool * pool, m, filters, rows, columns)
        order = np.argsort(windows, axis=0, kind="stable")
        first, second = order[-1], order[-2]
        top = np.take_along_axis(windows, first[None], 0)[0]
        runner_up = np.take_along_axis(windows, second[None], 0)[0]
        with np.errstate(over="ignore"):  # a window of zeros: its spacing is the smallest subnormal
            ulps = (top - runner_up) / np.spacing(np.abs(top))
        for place in np.argwhere((ulps >= 1) & (ulps <= NEAR_TIE_ULPS)):
            example, kernel, row, column = (int(i) for i in place)
            found.append(
                NearTie(index + 1, example, kernel, row, column, float(ulps[tuple(place)]),
                        int(first[tuple(place)]), int(second[tuple(place)]))
            )  # fmt: skip
    return found


def gradients_with_swapped(spec, params, x, y, masks, n: int, ties: list[NearTie], equal: list[NearTie] = ()):
    """The reference's gradient of the batch's regularised cost (in the spec's dtype) with each of `ties`
    sending its window's gradient to its second largest entry instead of its largest, and each of `equal`
    taking its two largest entries as equal (as another order of sums can round them): its gradient then
    goes where the layer's `ties` sends a tied maximum's (to both with "all", the first in row-major
    order with "first")."""
    network = Network(spec.network)
    for index, layer in enumerate(network.layers):
        swapped = [tie for tie in ties if tie.layer == index + 1]
        tied = [tie for tie in equal if tie.layer == index + 1]
        if swapped or tied:
            layer.pool = _SwappedPool(layer.pool, swapped, tied)
    params, x = _in_dtype(spec, params, x)
    return gradients(network, spec.training, params, x, np.asarray(y, dtype=x.dtype), masks, n)


def _in_dtype(spec, params, x):
    """The parameters and the inputs in the spec's training dtype, as the reference's Model holds them."""
    dtype = np.dtype(spec.training.dtype)
    return [(w.astype(dtype), b.astype(dtype)) for w, b in params], np.asarray(x, dtype=dtype)


class _SwappedPool:
    """A max-pool whose forward pass is the pool's own and whose backward pass sees, in each tie's window,
    the two largest entries exchanged: the maximum's value is the same, its place the runner-up's; and in
    each of `equal`'s, the runner-up raised to the maximum."""

    def __init__(self, pool, ties: list[NearTie], equal: list[NearTie] = ()):
        self.pool, self.ties, self.equal = pool, ties, equal

    def fn(self, u):
        return self.pool.fn(u)

    def backward(self, u, pooled, grad):
        u = u.copy()
        size = self.pool.size
        for tie in self.ties:
            a, b = (_entry(tie, place, size) for place in (tie.first, tie.second))
            u[a], u[b] = u[b], u[a]
        for tie in self.equal:
            a, b = (_entry(tie, place, size) for place in (tie.first, tie.second))
            u[b] = u[a]
        return self.pool.backward(u, pooled, grad)


def _entry(tie: NearTie, place: int, size: int) -> tuple[int, int, int, int]:
    """The index in the correlation (m, filters, H, W) of entry `place` of the tie's window."""
    p, q = divmod(place, size)
    return tie.example, tie.filter, tie.row * size + p, tie.column * size + q
