"""What the ports whose SGD step is broken on purpose share: the reference's epoch loop, with a step of
their own. Each such port writes its one wrong line in `sgd_step` and takes `Model = with_step(sgd_step)`.
"""

import numpy as np

import reference
from conformance.data.streams import batch_bounds
from reference.network import backprop


def with_step(sgd_step) -> type:
    """The reference's Model, its epoch stepping by `sgd_step(training, params, grads, eta, n, m)`: grads of
    the mini-batch's mean cost, n the training set's size, m the mini-batch's."""

    class Model(reference.Model):
        def train_epoch(self, data, plan, eta, on_step=None):
            """The reference's epoch, with the port's own step."""
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

    return Model
