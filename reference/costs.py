"""Cost functions: `fn` is the cost of each example in a batch, `delta` is BP1, the output error.

Rows are examples. z and a are the output layer's weighted input and activation, y the
one-hot desired output. Batch means are taken by the caller.
"""

import numpy as np


class QuadraticCost:
    @staticmethod
    def fn(z, a, y):
        """C = 1/2 ||y - a||^2 (eq. 6, per example)."""
        return 0.5 * np.sum((a - y) ** 2, axis=1)

    @staticmethod
    def delta(z, a, y):
        """BP1: delta^L = (a - y) * sigma'(z^L), for a sigmoid output layer."""
        return (a - y) * (a * (1.0 - a))


class CrossEntropyCost:
    @staticmethod
    def fn(z, a, y):
        """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (ch. 3, the cross-entropy cost), written from z as
        sum_j softplus(z_j) - y_j z_j: the same number, exact, and never NaN."""
        return np.sum(np.logaddexp(0.0, z) - y * z, axis=1)

    @staticmethod
    def delta(z, a, y):
        """BP1 for cross-entropy with sigmoid outputs: delta^L = a - y (ch. 3: sigma' cancels)."""
        return a - y


class LogLikelihoodCost:
    @staticmethod
    def fn(z, a, y):
        """C = -ln a_y (ch. 3, the log-likelihood cost), written from z as logsumexp(z) - z_y:
        no underflow to log(0)."""
        z_max = z.max(axis=1, keepdims=True)
        log_sum_exp = np.log(np.sum(np.exp(z - z_max), axis=1)) + z_max[:, 0]
        return log_sum_exp - np.sum(y * z, axis=1)

    @staticmethod
    def delta(z, a, y):
        """BP1 for log-likelihood with softmax outputs: delta^L = a - y (ch. 3, softmax)."""
        return a - y


COSTS = {"quadratic": QuadraticCost, "cross_entropy": CrossEntropyCost, "log_likelihood": LogLikelihoodCost}
