"""A port whose max-pooling sends each window's gradient to the wrong entry: the maximum's place in the
flattened window, k, read back as (column, row) = divmod(k, size) where it is (row, column).

The slip of a learner who unravels an argmax by hand. The forward pass is right, and so is dC/db, the
sum of delta over the pooled map; dC/dW and the delta passed down are not. `nndl conform --explain`
must name the pooling's routing.
"""

import numpy as np

from reference.layers import ConvPool
from reference.pooling import MaxPool
from tests.broken_conv_support import with_conv_layer

NAME = "convpoolbug"


class TransposedMaxPool(MaxPool):
    def backward(self, u, pooled, grad):
        """dC/du: each window's gradient to its first maximum; the bug: its row and column exchanged."""
        s = self.size
        m, c, rows, cols = u.shape[0], u.shape[1], u.shape[2] // s, u.shape[3] // s
        blocks = u[:, :, : rows * s, : cols * s].reshape(m, c, rows, s, cols, s).transpose(0, 1, 2, 4, 3, 5)
        column, row = np.divmod(blocks.reshape(m, c, rows, cols, s * s).argmax(axis=-1), s)  # the bug
        n, f, i, j = np.indices((m, c, rows, cols))
        du = np.zeros_like(u)
        du[n, f, i * s + row, j * s + column] = grad
        return du


class ConvPoolWithTransposedMaxPool(ConvPool):
    def __init__(self, layer, input_shape):
        super().__init__(layer, input_shape)
        if layer.pooling == "max":
            self.pool = TransposedMaxPool(layer.pool, layer.ties)


Model = with_conv_layer(ConvPoolWithTransposedMaxPool)
