"""Regularisation with network2's convention: the strength is lambda / n, n the training set size.

Each regulariser gives the term it adds to the cost, that term's gradient, and the part of
the SGD update it makes to a weight matrix (in place). Biases are never regularised.
"""

import numpy as np


class NoRegularizer:
    @staticmethod
    def penalty(weights, lmbda, n):
        return 0.0

    @staticmethod
    def gradient(w, lmbda, n):
        return np.zeros_like(w)

    @staticmethod
    def shrink(w, eta, lmbda, n):
        """No change."""


class L2:
    @staticmethod
    def penalty(weights, lmbda, n):
        """(lambda / 2n) sum_w w^2, the L2 term of the cost (ch. 3)."""
        return 0.5 * (lmbda / n) * sum(float(np.sum(w * w)) for w in weights)

    @staticmethod
    def gradient(w, lmbda, n):
        """(lambda / n) w, the L2 term's gradient."""
        return (lmbda / n) * w

    @staticmethod
    def shrink(w, eta, lmbda, n):
        """Weight decay: w <- (1 - eta lambda / n) w (ch. 3's L2 update, before the gradient step)."""
        w *= 1.0 - eta * lmbda / n


class L1:
    @staticmethod
    def penalty(weights, lmbda, n):
        """(lambda / n) sum_w |w|, the L1 term of the cost (ch. 3)."""
        return (lmbda / n) * sum(float(np.sum(np.abs(w))) for w in weights)

    @staticmethod
    def gradient(w, lmbda, n):
        """(lambda / n) sgn(w), the L1 term's gradient, with sgn(0) = 0."""
        return (lmbda / n) * np.sign(w)

    @staticmethod
    def shrink(w, eta, lmbda, n):
        """w <- w - (eta lambda / n) sgn(w) (ch. 3's L1 update, before the gradient step)."""
        w -= (eta * lmbda / n) * np.sign(w)


REGULARIZERS = {"none": NoRegularizer, "l2": L2, "l1": L1}
