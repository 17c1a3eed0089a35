"""A port whose L2 weight decay divides by the mini-batch's size: w <- (1 - eta lambda / m) w,
where chapter 3's rule is w <- (1 - eta lambda / n) w with n the size of the whole training set.

The gradient of the regularised cost is right (Model.gradients is the reference's); only the
SGD step is wrong, so gradient checks pass and training trajectories with L2 fail from the first
step. It is the reference's epoch loop with that one change. `nndl conform --explain` must name
L2's weight decay and the n it used.
"""

import numpy as np

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from conformance.data.streams import batch_bounds
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.network import backprop
from reference.train import sgd_step
from tests.toy_backend import model_row

NAME = "l2bug"


class Model(reference.Model):
    def train_epoch(self, data, plan, eta, on_step=None):
        """The reference's epoch, but every step's regulariser is given n = the batch's size."""
        training, masks = self.spec.training, [None] * len(self.params)
        with np.errstate(over="ignore", invalid="ignore"):
            for start, stop in batch_bounds(len(plan.order), training.batch_size):
                batch = plan.order[start:stop]
                if self.spec.network.has_dropout:
                    masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
                grads = backprop(self.network, self.params, data.x[batch], data.y[batch], masks)
                sgd_step(training, self.params, grads, eta, len(batch))  # the bug: n is the batch's size
                if on_step is not None:
                    on_step()


def bench_rows(spec, training_split, device):
    return [BenchRow("l2bug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
