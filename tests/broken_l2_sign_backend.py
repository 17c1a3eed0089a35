"""A port whose L2 weight decay grows the weights: w <- (1 + eta lambda / n) w, where chapter 3's
rule is w <- (1 - eta lambda / n) w.

A sign slip in the decay factor. The gradient of the regularised cost is right (Model.gradients is
the reference's), and so is the rest of the step. It is the reference's epoch loop with that one
change. `nndl conform --explain` must name L2's weight decay with the wrong sign.
"""

from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from tests.broken_step_support import with_step
from tests.toy_backend import model_row

NAME = "l2signbug"


def sgd_step(training, params, grads, eta, n, m):
    """The reference's sgd_step, with the weight decay's sign turned."""
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        w *= 1.0 + eta * training.lmbda / n  # the bug: + where the book has -
        w -= eta * grad_w
        b -= eta * grad_b


Model = with_step(sgd_step)


def bench_rows(spec, training_split, device):
    return [BenchRow("l2signbug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
