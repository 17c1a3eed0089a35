"""Pooling over non-overlapping size x size windows (ch. 6), as jax.lax window reductions.

Each pooling is a small class made as POOLS[name](size, ties): `fn` maps u (m, c, H, W) to
(m, c, H // size, W // size). Rows and columns beyond H // size * size, W // size * size (a
ragged border) belong to no window and are dropped, as network3's ignore_border=True; their
gradient is 0. jax.grad differentiates `fn`, so unlike reference/pooling.py there is no
`backward`, except where the rule below is not JAX's own: a jax.custom_vjp.

`ties` says where max-pooling's gradient goes when a window's maximum is tied, as it is in
every window of MNIST's blank margins (all zero before the bias):
- "first": all of it to the first maximum in row-major order (torch's max_pool2d on CPU, and the
  gradient of XLA's reduce_window max);
- "all": the full gradient to every tied maximum (network3's Theano pool_2d).
jnp.max over a reshaped window follows neither: it splits the gradient evenly among the ties.
"""

from functools import partial

import jax
import jax.numpy as jnp
from jax import lax


def _max_pool(u, size):
    """The largest entry of each non-overlapping size x size window; "VALID" drops the ragged border.

    The initial -inf stays a Python number: JAX then recognises lax.max and uses reduce_window_max,
    whose gradient rule the tests pin (an initial array gives the generic reduce_window instead).
    """
    window = (1, 1, size, size)
    return lax.reduce_window(u, -jnp.inf, lax.max, window, window, "VALID")


def _sum_pool(u, size):
    """The sum of each non-overlapping size x size window (reduce_window_sum), the ragged border dropped."""
    window = (1, 1, size, size)
    return lax.reduce_window(u, 0.0, lax.add, window, window, "VALID")


def _spread(pooled, size):
    """Each pooled value copied over its size x size window: (m, c, rows * size, cols * size)."""
    return jnp.repeat(jnp.repeat(pooled, size, axis=2), size, axis=3)


@partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool_all_ties(u, size):
    """reduce_window max whose gradient goes in full to every tied maximum, as Theano's pool_2d."""
    return _max_pool(u, size)


def _max_pool_all_ties_forward(u, size):
    pooled = _max_pool(u, size)
    return pooled, (u, pooled)


def _max_pool_all_ties_backward(size, residuals, grad):
    u, pooled = residuals
    rows, cols = pooled.shape[2] * size, pooled.shape[3] * size
    chosen = u[:, :, :rows, :cols] == _spread(pooled, size)
    border = ((0, 0), (0, 0), (0, u.shape[2] - rows), (0, u.shape[3] - cols))
    return (jnp.pad(chosen * _spread(grad, size), border),)


_max_pool_all_ties.defvjp(_max_pool_all_ties_forward, _max_pool_all_ties_backward)


class MaxPool:
    def __init__(self, size, ties):
        """Max-pooling (ch. 6, 'pooling layers') over size x size windows; ties is "first" or "all"."""
        if ties not in ("first", "all"):
            raise ValueError(f'ties must be "first" or "all", not {ties!r}')
        self.size, self.ties = size, ties

    def fn(self, u):
        """The largest activation in each window (ch. 6, max-pooling); its gradient goes to the maximum,
        at a tie to the first in row-major order (reduce_window's own rule) or in full to each ("all")."""
        if self.ties == "all":
            return _max_pool_all_ties(u, self.size)
        return _max_pool(u, self.size)


class L2Pool:
    def __init__(self, size, ties):
        """L2 pooling (ch. 6, 'pooling layers') over size x size windows; ties is for max-pooling, ignored here."""
        self.size = size

    def fn(self, u):
        """sqrt(sum of the squares in each window) (ch. 6, L2 pooling), with gradient 0 in an all-zero window.

        There d sqrt(s)/ds is infinite, and a window of zeros is common: before the bias, MNIST's
        blank margins give them; a plain jnp.sqrt returns NaN gradients there. The spec defines
        the gradient as 0, and the double where gives it: the sqrt never sees a 0, and the outer
        where sends it no gradient from an all-zero window.
        """
        s = _sum_pool(u * u, self.size)  # the sum over each window
        positive = s > 0
        return jnp.where(positive, jnp.sqrt(jnp.where(positive, s, 1.0)), 0.0)


POOLS = {"max": MaxPool, "l2": L2Pool}
