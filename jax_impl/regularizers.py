"""Regularisation with network2's convention: the strength is lambda / n, n the training set size.

Each regulariser gives the term it adds to the cost, and the part of the SGD update it makes
to a weight matrix. JAX arrays are immutable, so `shrink` returns the new matrix where the
other backends change theirs in place. jax.grad differentiates `penalty`, so unlike
reference/regularizers.py there is no `gradient`. Biases are never regularised.
"""

import jax.numpy as jnp


class NoRegularizer:
    @staticmethod
    def penalty(weights, lmbda, n):
        return 0.0

    @staticmethod
    def shrink(w, eta, lmbda, n):
        """No change."""
        return w


class L2:
    @staticmethod
    def penalty(weights, lmbda, n):
        """(lambda / 2n) sum_w w^2, the L2 term of the cost (ch. 3)."""
        return 0.5 * (lmbda / n) * sum(jnp.sum(w * w) for w in weights)

    @staticmethod
    def shrink(w, eta, lmbda, n):
        """Weight decay: w <- (1 - eta lambda / n) w (ch. 3's L2 update, before the gradient step)."""
        return w * (1.0 - eta * lmbda / n)


class L1:
    @staticmethod
    def penalty(weights, lmbda, n):
        """(lambda / n) sum_w |w|, the L1 term of the cost (ch. 3), written w sgn(w): jax.grad then takes
        |w|' at 0 as sgn(0) = 0, as the book's update does (jnp.abs's own derivative at 0 is 1)."""
        return (lmbda / n) * sum(jnp.sum(w * jnp.sign(w)) for w in weights)

    @staticmethod
    def shrink(w, eta, lmbda, n):
        """w <- w - (eta lambda / n) sgn(w) (ch. 3's L1 update, before the gradient step)."""
        return w - (eta * lmbda / n) * jnp.sign(w)


REGULARIZERS = {"none": NoRegularizer, "l2": L2, "l1": L1}
