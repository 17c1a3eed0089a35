"""Activation functions sigma(z), as jax.numpy functions.

jax.grad differentiates these, so unlike reference/activations.py there is no `prime`: the
sigma'(z) of BP2 comes from each primitive's own differentiation rule.
"""

import jax
import jax.numpy as jnp


class Sigmoid:
    @staticmethod
    def fn(z):
        """sigma(z) = 1 / (1 + e^-z) (eq. 3); jax.nn.sigmoid saturates to 0 and 1 without warning."""
        return jax.nn.sigmoid(z)


class Tanh:
    @staticmethod
    def fn(z):
        """tanh(z) (chapter 3, 'other models of artificial neuron')."""
        return jnp.tanh(z)


class ReLU:
    @staticmethod
    def fn(z):
        """max(0, z), the rectified linear unit (ch. 3, 'other models of artificial neuron'; ch. 6).

        jax.nn.relu's derivative at 0 is defined as 0, as the reference takes it.
        """
        return jax.nn.relu(z)


class Linear:
    @staticmethod
    def fn(z):
        """The identity a = z (network3's linear activation, ch. 6)."""
        return z


class Softmax:
    @staticmethod
    def fn(z):
        """a_j = e^{z_j} / sum_k e^{z_k} (ch. 3, softmax); jax.nn.softmax shifts by max z itself."""
        return jax.nn.softmax(z, axis=-1)


ACTIVATIONS = {"sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "linear": Linear, "softmax": Softmax}
