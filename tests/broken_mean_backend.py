"""A port whose weights step by the sum of the mini-batch's gradients: W <- W - eta sum_x dC_x/dW,
where chapter 1's rule has the mean, W <- W - (eta / m) sum_x dC_x/dW, m the mini-batch's size.

A slip students make when they sum nabla_w over the batch and forget to divide. The gradient of the
regularised cost is right (Model.gradients is the reference's), the biases step by the mean, and L2's
weight decay is the book's; only the weights' data term is m times too large. It is the reference's
epoch loop with that one change. `nndl conform --explain` must name the mean without 1/m.
"""

import numpy as np

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from conformance.data.streams import batch_bounds
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.network import backprop
from reference.regularizers import REGULARIZERS
from tests.toy_backend import model_row

NAME = "meanbug"


def sgd_step(training, params, grads, eta, n, m):
    """The reference's sgd_step, but the weights step by m times the mean's gradient."""
    shrink = REGULARIZERS[training.regularizer].shrink
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        shrink(w, eta, training.lmbda, n)
        w -= eta * m * grad_w  # the bug: the sum over the batch, without the mean's 1/m
        b -= eta * grad_b


class Model(reference.Model):
    def train_epoch(self, data, plan, eta, on_step=None):
        """The reference's epoch, with the step above."""
        training, masks = self.spec.training, [None] * len(self.params)
        with np.errstate(over="ignore", invalid="ignore"):
            for start, stop in batch_bounds(len(plan.order), training.batch_size):
                batch = plan.order[start:stop]
                if self.spec.network.has_dropout:
                    masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
                grads = backprop(self.network, self.params, data.x[batch], data.y[batch], masks)
                sgd_step(training, self.params, grads, eta, len(data.x), len(batch))
                if on_step is not None:
                    on_step()


def bench_rows(spec, training_split, device):
    return [BenchRow("meanbug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
