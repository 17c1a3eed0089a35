"""A port that is the reference, except that it decides every max-pool near tie the other way.

At each step it sends the gradient of each of the reference's near-tied windows (reference/ties.py)
to the window's runner-up, or with `EQUAL` takes the two largest entries as equal (the gradient to
both, with ch6-conv2-relu's ties = "all"), as a convolution that sums in another order may: a tie
flip, rounding and not an error. `STEP_FACTOR` (1 here) scales its whole step; tests set it to plant
a real error beside the tie flips, which the steps' check must still fail.
"""

import numpy as np

import reference
from conformance.data.streams import batch_bounds
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.ties import gradients_with_swapped, near_ties

NAME = "tieflip"
STEP_FACTOR = 1.0
EQUAL = False  # the near ties' two largest entries rounded equal, not the runner-up on top


class Model(reference.Model):
    def gradients(self, x, y, masks, n):
        """The reference's gradient with every near tie of the batch sent the other way."""
        params = self.parameters()
        near = near_ties(self.spec, params, x, masks)
        swapped, equal = ([], near) if EQUAL else (near, [])
        return gradients_with_swapped(self.spec, params, x, y, masks, n, swapped, equal)

    def train_epoch(self, data, plan, eta, on_step=None):
        """SGD down that gradient: W <- W - eta dC/dW, b <- b - eta dC/db (weight decay is inside dC/dW)."""
        masks, n = [None] * len(self.params), len(data.x)
        step = self.params[0][0].dtype.type(STEP_FACTOR * eta)
        for start, stop in batch_bounds(len(plan.order), self.spec.training.batch_size):
            if self.spec.network.has_dropout:
                masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
            batch = plan.order[start:stop]
            grads = self.gradients(np.asarray(data.x[batch]), np.asarray(data.y[batch]), masks, n)
            self.params = [(w - step * gw, b - step * gb) for (w, b), (gw, gb) in zip(self.params, grads)]
            if on_step is not None:
                on_step()
