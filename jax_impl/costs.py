"""Cost functions: `fn` is the cost of each example in a batch.

Rows are examples. z and a are the output layer's weighted input and activation, y the
one-hot desired output. Batch means are taken by the caller. jax.grad differentiates `fn`, so
unlike reference/costs.py there is no `delta`: BP1 is the derivative of these functions.
"""

import jax
import jax.numpy as jnp


class QuadraticCost:
    @staticmethod
    def fn(z, a, y):
        """C = 1/2 ||y - a||^2 (eq. 6, per example)."""
        return 0.5 * jnp.sum((a - y) ** 2, axis=1)


class CrossEntropyCost:
    @staticmethod
    def fn(z, a, y):
        """C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] (ch. 3, the cross-entropy cost), written from z as
        sum_j softplus(z_j) - y_j z_j: the same number, exact, and never NaN."""
        return jnp.sum(jnp.logaddexp(0.0, z) - y * z, axis=1)


class LogLikelihoodCost:
    @staticmethod
    def fn(z, a, y):
        """C = -ln a_y (ch. 3, the log-likelihood cost), written from z as logsumexp(z) - z_y:
        no underflow to log(0)."""
        return jax.nn.logsumexp(z, axis=1) - jnp.sum(y * z, axis=1)


COSTS = {"quadratic": QuadraticCost, "cross_entropy": CrossEntropyCost, "log_likelihood": LogLikelihoodCost}
