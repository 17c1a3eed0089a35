"""Activation functions sigma(z) and, for backprop, their derivatives sigma'(z).

Each activation is a small class: `fn` is the forward map, `prime(z, a)` is sigma'(z), given
both z and a = sigma(z) so that the sigmoid and tanh can reuse the a already computed.
"""

import numpy as np


class Sigmoid:
    @staticmethod
    def fn(z):
        """sigma(z) = 1 / (1 + e^-z) (eq. 3).

        Below z = -709 e^-z overflows to inf in float64 (-88 in float32), and 1 / (1 + inf) = 0
        is the right limit; NumPy warns of the overflow, which the training and evaluation
        loops silence.
        """
        return 1.0 / (1.0 + np.exp(-z))

    @staticmethod
    def prime(z, a):
        """sigma'(z) = sigma(z) (1 - sigma(z))."""
        return a * (1.0 - a)


class Tanh:
    @staticmethod
    def fn(z):
        """tanh(z) (chapter 3, 'other models of artificial neuron')."""
        return np.tanh(z)

    @staticmethod
    def prime(z, a):
        """tanh'(z) = 1 - tanh(z)^2."""
        return 1.0 - a * a


class ReLU:
    @staticmethod
    def fn(z):
        """max(0, z), the rectified linear unit (ch. 3, 'other models of artificial neuron'; ch. 6)."""
        return np.maximum(z, 0.0)

    @staticmethod
    def prime(z, a):
        """1 where z > 0, else 0 (the derivative at 0 taken as 0)."""
        return (z > 0).astype(z.dtype)


class Linear:
    @staticmethod
    def fn(z):
        """The identity a = z (network3's linear activation, ch. 6)."""
        return z

    @staticmethod
    def prime(z, a):
        return np.ones_like(z)


class Softmax:
    @staticmethod
    def fn(z):
        """a_j = e^{z_j} / sum_k e^{z_k} (ch. 3, softmax), shifted by max z so no exponent overflows."""
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "linear": Linear, "softmax": Softmax}
