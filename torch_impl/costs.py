"""Cost functions: `fn` is the cost of each example in a batch.

Rows are examples. z and a are the output layer's weighted input and activation, y the
one-hot desired output. Batch means are taken by the caller. Autograd differentiates `fn`, so
unlike reference/costs.py there is no `delta`: BP1 is the backward rule of these operations.
"""

import torch


class QuadraticCost:
    @staticmethod
    def fn(z, a, y):
        """C = 1/2 ||y - a||^2 (eq. 6, per example)."""
        return 0.5 * torch.sum((a - y) ** 2, dim=1)


class CrossEntropyCost:
    @staticmethod
    def fn(z, a, y):
        """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (ch. 3, the cross-entropy cost), written from z as
        sum_j softplus(z_j) - y_j z_j: the same number, exact, and never NaN.

        softplus is logaddexp(0, z), not torch.nn.functional.softplus, which returns z itself
        above a threshold of 20 and so differs from the exact value by up to 2e-9.
        """
        return torch.sum(torch.logaddexp(torch.zeros_like(z), z) - y * z, dim=1)


class LogLikelihoodCost:
    @staticmethod
    def fn(z, a, y):
        """C = -ln a_y (ch. 3, the log-likelihood cost), written from z as logsumexp(z) - z_y:
        no underflow to log(0)."""
        return torch.logsumexp(z, dim=1) - torch.sum(y * z, dim=1)


COSTS = {"quadratic": QuadraticCost, "cross_entropy": CrossEntropyCost, "log_likelihood": LogLikelihoodCost}
