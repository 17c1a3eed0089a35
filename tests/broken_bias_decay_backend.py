"""A port that applies L2's weight decay to the biases too: b <- (1 - eta lambda / n) b - eta dC/db,
where chapter 3's rule decays the weights alone and leaves b <- b - eta dC/db.

A slip students make when they loop the update over every parameter array alike. The gradient of
the regularised cost is right (Model.gradients is the reference's); only the biases' step is wrong.
It is the reference's epoch loop with that one change. `nndl conform --explain` must name weight
decay applied to the biases.
"""

from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.regularizers import REGULARIZERS
from tests.broken_step_support import with_step
from tests.toy_backend import model_row

NAME = "biasdecaybug"


def sgd_step(training, params, grads, eta, n, m):
    """The reference's sgd_step, but the regulariser's step shrinks the biases as well."""
    shrink = REGULARIZERS[training.regularizer].shrink
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        shrink(w, eta, training.lmbda, n)
        w -= eta * grad_w
        shrink(b, eta, training.lmbda, n)  # the bug: the book's rule leaves b out
        b -= eta * grad_b


Model = with_step(sgd_step)


def bench_rows(spec, training_split, device):
    return [BenchRow("biasdecaybug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
