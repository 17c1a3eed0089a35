"""Pooling over non-overlapping size x size windows (ch. 6), and, for backprop, its gradient.

Each pooling is a small class made as POOLS[name](size, ties): `fn` maps u (m, c, H, W) to
(m, c, H // size, W // size); `backward(u, pooled, grad)` turns dC/dpooled into dC/du.
Rows and columns beyond H // size * size, W // size * size (a ragged border) belong to no
window and are dropped, as network3's ignore_border=True; their gradient is 0.

`ties` says where max-pooling's gradient goes when a window's maximum is tied, as it is in
every window of MNIST's blank margins (all zero before the bias):
- "first": all of it to the first maximum in row-major order (torch's max_pool2d on CPU, and the
  gradient of XLA's reduce_window max);
- "all": the full gradient to every tied maximum (network3's Theano pool_2d).
"""

import numpy as np


def _windows(u, size):
    """The windows' entries, one array per place in the window in row-major order:
    (size * size, m, c, H // size, W // size), the ragged border left out.

    u[:, :, p::size, q::size] holds entry (p, q) of every window, so a loop over the size x size
    places in a window (never over pixels) gathers them.
    """
    rows, cols = u.shape[2] // size * size, u.shape[3] // size * size
    return np.stack([u[:, :, p:rows:size, q:cols:size] for p in range(size) for q in range(size)])


def _unwindows(windows, shape, size):
    """The inverse of _windows: each entry put back in its place, zeros in the ragged border."""
    u = np.zeros(shape, dtype=windows.dtype)
    rows, cols = windows.shape[3] * size, windows.shape[4] * size
    for place, entries in enumerate(windows):
        p, q = divmod(place, size)
        u[:, :, p:rows:size, q:cols:size] = entries
    return u


class MaxPool:
    def __init__(self, size, ties):
        """Max-pooling (ch. 6, 'pooling layers') over size x size windows; ties is "first" or "all"."""
        if ties not in ("first", "all"):
            raise ValueError(f'ties must be "first" or "all", not {ties!r}')
        self.size, self.ties = size, ties

    def fn(self, u):
        """The largest activation in each window (ch. 6, max-pooling)."""
        return _windows(u, self.size).max(axis=0)

    def backward(self, u, pooled, grad):
        """dC/du (ch. 6, max-pooling): each window's gradient goes to its maximum, the rest get 0;
        at a tie, to the first maximum in row-major order ("first") or in full to each ("all")."""
        chosen = _windows(u, self.size) == pooled  # every maximum, place by place in row-major order
        if self.ties == "first":
            seen = np.zeros_like(chosen[0])  # a window's maximum found at an earlier place
            for maxima in chosen:
                maxima &= ~seen
                seen |= maxima
        return _unwindows(chosen * grad, u.shape, self.size)


class L2Pool:
    def __init__(self, size, ties):
        """L2 pooling (ch. 6, 'pooling layers') over size x size windows; ties is for max-pooling, ignored here."""
        self.size = size

    def fn(self, u):
        """sqrt(sum of the squares in each window) (ch. 6, L2 pooling)."""
        return np.sqrt(np.sum(_windows(u, self.size) ** 2, axis=0))

    def backward(self, u, pooled, grad):
        """dC/du = dC/dpooled * u / pooled (ch. 6, L2 pooling), and 0 in an all-zero window.

        There d sqrt(s)/ds is infinite, and a window of zeros is common: before the bias, MNIST's
        blank margins give them. The spec defines the gradient there as 0.
        """
        positive = pooled > 0
        scale = np.where(positive, grad / np.where(positive, pooled, 1), 0)
        return _unwindows(_windows(u, self.size) * scale, u.shape, self.size)


POOLS = {"max": MaxPool, "l2": L2Pool}
