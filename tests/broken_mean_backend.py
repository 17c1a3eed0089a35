"""A port whose weights step by the sum of the mini-batch's gradients: W <- W - eta sum_x dC_x/dW,
where chapter 1's rule has the mean, W <- W - (eta / m) sum_x dC_x/dW, m the mini-batch's size.

A slip students make when they sum nabla_w over the batch and forget to divide. The gradient of the
regularised cost is right (Model.gradients is the reference's), the biases step by the mean, and L2's
weight decay is the book's; only the weights' data term is m times too large. It is the reference's
epoch loop with that one change. `nndl conform --explain` must name the mean without 1/m.
"""

from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.regularizers import REGULARIZERS
from tests.broken_step_support import with_step
from tests.toy_backend import model_row

NAME = "meanbug"


def sgd_step(training, params, grads, eta, n, m):
    """The reference's sgd_step, but the weights step by m times the mean's gradient."""
    shrink = REGULARIZERS[training.regularizer].shrink
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        shrink(w, eta, training.lmbda, n)
        w -= eta * m * grad_w  # the bug: the sum over the batch, without the mean's 1/m
        b -= eta * grad_b


Model = with_step(sgd_step)


def bench_rows(spec, training_split, device):
    return [BenchRow("meanbug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
