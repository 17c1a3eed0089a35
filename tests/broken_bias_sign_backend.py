"""A port whose biases step up the gradient: b <- b + eta dC/db, where chapter 1's rule is
b <- b - eta dC/db.

A sign slip in one line of the update. The gradient is right (Model.gradients is the reference's)
and the weights step as the book says; only the biases' step is wrong. It is the reference's epoch
loop with that one change. `nndl conform --explain` must name a bias step with the wrong sign.
"""

import numpy as np

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from conformance.data.streams import batch_bounds
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.network import backprop
from reference.regularizers import REGULARIZERS
from tests.toy_backend import model_row

NAME = "biassignbug"


def sgd_step(training, params, grads, eta, n):
    """The reference's sgd_step, but the biases' step has the wrong sign."""
    shrink = REGULARIZERS[training.regularizer].shrink
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        shrink(w, eta, training.lmbda, n)
        w -= eta * grad_w
        b += eta * grad_b  # the bug: + where the book has -


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
                sgd_step(training, self.params, grads, eta, len(data.x))
                if on_step is not None:
                    on_step()


def bench_rows(spec, training_split, device):
    return [BenchRow("biassignbug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
