"""Pooling over non-overlapping size x size windows (ch. 6), as PyTorch operations.

Each pooling is a small class made as POOLS[name](size, ties): `fn` maps u (m, c, H, W) to
(m, c, H // size, W // size). Rows and columns beyond H // size * size, W // size * size (a
ragged border) belong to no window and are dropped, as network3's ignore_border=True; their
gradient is 0. Autograd differentiates `fn`, so unlike reference/pooling.py there is no
`backward`, except where the rule below is not torch's own: a custom autograd.Function.

`ties` says where max-pooling's gradient goes when a window's maximum is tied, as it is in
every window of MNIST's blank margins (all zero before the bias):
- "first": all of it to the first maximum in row-major order (torch's max_pool2d on CPU, and the
  gradient of XLA's reduce_window max);
- "all": the full gradient to every tied maximum (network3's Theano pool_2d).
"""

import torch
import torch.nn.functional as F


def _spread(pooled, size):
    """Each pooled value copied over its size x size window: (m, c, rows * size, cols * size)."""
    return pooled.repeat_interleave(size, dim=2).repeat_interleave(size, dim=3)


class _MaxPoolAllTies(torch.autograd.Function):
    """max_pool2d whose backward gives the full gradient to every tied maximum, as Theano's pool_2d.

    Its forward is apart from its setup_context, and torch.func derives its vmap rule, so that
    torch.func.grad and vmap (train.Ensemble) can differentiate it and batch it.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(u, size):
        return F.max_pool2d(u, size)

    @staticmethod
    def setup_context(ctx, inputs, output):
        u, size = inputs
        ctx.save_for_backward(u, output)
        ctx.size = size

    @staticmethod
    def backward(ctx, grad):
        u, pooled = ctx.saved_tensors
        rows, cols = pooled.shape[2] * ctx.size, pooled.shape[3] * ctx.size
        chosen = u[:, :, :rows, :cols] == _spread(pooled, ctx.size)
        border = (0, u.shape[3] - cols, 0, u.shape[2] - rows)  # F.pad's order: last axis first
        return F.pad(chosen * _spread(grad, ctx.size), border), None


class MaxPool:
    def __init__(self, size, ties):
        """Max-pooling (ch. 6, 'pooling layers') over size x size windows; ties is "first" or "all"."""
        if ties not in ("first", "all"):
            raise ValueError(f'ties must be "first" or "all", not {ties!r}')
        self.size, self.ties = size, ties

    def fn(self, u):
        """The largest activation in each window (ch. 6, max-pooling); its gradient goes to the maximum,
        at a tie to the first in row-major order (max_pool2d's own rule) or in full to each ("all")."""
        if self.ties == "all":
            return _MaxPoolAllTies.apply(u, self.size)
        return F.max_pool2d(u, self.size)


class L2Pool:
    def __init__(self, size, ties):
        """L2 pooling (ch. 6, 'pooling layers') over size x size windows; ties is for max-pooling, ignored here."""
        self.size = size

    def fn(self, u):
        """sqrt(sum of the squares in each window) (ch. 6, L2 pooling), with gradient 0 in an all-zero window.

        There d sqrt(s)/ds is infinite, and a window of zeros is common: before the bias, MNIST's
        blank margins give them; a plain torch.sqrt returns NaN gradients there. The spec defines
        the gradient as 0, and the double where gives it: the sqrt never sees a 0, and the outer
        where sends it no gradient from an all-zero window. (F.lp_pool2d gives 0 there too, but
        only through a relu inside it that its documentation does not promise.)
        """
        s = F.avg_pool2d(u * u, self.size, divisor_override=1)  # the sum over each window
        positive = s > 0
        return torch.where(positive, torch.sqrt(torch.where(positive, s, 1.0)), 0.0)


POOLS = {"max": MaxPool, "l2": L2Pool}
