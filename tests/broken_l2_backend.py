"""A port whose L2 weight decay divides by the mini-batch's size: w <- (1 - eta lambda / m) w,
where chapter 3's rule is w <- (1 - eta lambda / n) w with n the size of the whole training set.

The gradient of the regularised cost is right (Model.gradients is the reference's); only the
SGD step is wrong, so gradient checks pass and training trajectories with L2 fail from the first
step. It is the reference's epoch loop with that one change. `nndl conform --explain` must name
L2's weight decay and the n it used.
"""

from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.train import sgd_step as book_step
from tests.broken_step_support import with_step
from tests.toy_backend import model_row

NAME = "l2bug"


def sgd_step(training, params, grads, eta, n, m):
    """The reference's sgd_step, given the mini-batch's size m where the book has n."""
    book_step(training, params, grads, eta, m)  # the bug: n is the batch's size


Model = with_step(sgd_step)


def bench_rows(spec, training_split, device):
    return [BenchRow("l2bug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
