"""A port whose L2 pooling's gradient is dC/dpooled * u / pooled everywhere, the spec's 0 at an all-zero
window left out: there it is 0/0, NaN.

A window of zeros is common (before the bias, MNIST's blank margins give them), so the NaN reaches
dC/dW of the layer, and, through the delta passed down, the layers below. `nndl conform --explain`
must say where the NaN is and that an all-zero pooling window makes it.
"""

import numpy as np

from reference.layers import ConvPool
from reference.pooling import L2Pool
from tests.broken_conv_support import with_conv_layer

NAME = "convl2bug"


class L2PoolWithoutZeroWindows(L2Pool):
    def backward(self, u, pooled, grad):
        """dC/du = dC/dpooled * u / pooled; the bug: no 0 where pooled is 0."""
        s = self.size
        rows, cols = pooled.shape[2] * s, pooled.shape[3] * s
        du = np.zeros_like(u)
        with np.errstate(divide="ignore", invalid="ignore"):
            du[:, :, :rows, :cols] = u[:, :, :rows, :cols] * (grad / pooled).repeat(s, axis=2).repeat(s, axis=3)
        return du


class ConvPoolWithNanL2Pool(ConvPool):
    def __init__(self, layer, input_shape):
        super().__init__(layer, input_shape)
        if layer.pooling == "l2":
            self.pool = L2PoolWithoutZeroWindows(layer.pool, layer.ties)


Model = with_conv_layer(ConvPoolWithNanL2Pool)
