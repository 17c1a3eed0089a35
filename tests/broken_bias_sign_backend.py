"""A port whose biases step up the gradient: b <- b + eta dC/db, where chapter 1's rule is
b <- b - eta dC/db.

A sign slip in one line of the update. The gradient is right (Model.gradients is the reference's)
and the weights step as the book says; only the biases' step is wrong. It is the reference's epoch
loop with that one change. `nndl conform --explain` must name a bias step with the wrong sign.
"""

from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.regularizers import REGULARIZERS
from tests.broken_step_support import with_step
from tests.toy_backend import model_row

NAME = "biassignbug"


def sgd_step(training, params, grads, eta, n, m):
    """The reference's sgd_step, but the biases' step has the wrong sign."""
    shrink = REGULARIZERS[training.regularizer].shrink
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        shrink(w, eta, training.lmbda, n)
        w -= eta * grad_w
        b += eta * grad_b  # the bug: + where the book has -


Model = with_step(sgd_step)


def bench_rows(spec, training_split, device):
    return [BenchRow("biassignbug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
