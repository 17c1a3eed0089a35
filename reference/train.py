"""Stochastic gradient descent: the update rule, and one epoch of mini-batches.

The epoch loop around this (monitoring, early stopping, the eta schedule, the search for the
step where a run diverged) is shared by every backend and lives in conformance.run.training; this
file holds only what NumPy does itself. An epoch here is a Python loop over the mini-batches,
one SGD step each; there is no `_scanned_epoch`, the one compiled lax.scan that jax_impl/train.py
makes of the same loop. There is no `Ensemble`: NumPy trains an
ensemble's members one after another (conformance.book.ensemble).
"""

import numpy as np

from conformance.data.streams import batch_bounds

from .device import resolve_device
from .network import Network, backprop, evaluate, gradients, penalty, predict
from .regularizers import REGULARIZERS


def sgd_step(training, params, grads, eta, n):
    """W <- W - (regulariser's step) - eta dC/dW, and b <- b - eta dC/db, in place (ch. 1 and 3).

    `grads` are those of the batch's mean cost, so the book's 1/m is already inside them, with m
    the batch's own size. They are scaled in place, and so are used up.
    """
    shrink = REGULARIZERS[training.regularizer].shrink
    for (w, b), (grad_w, grad_b) in zip(params, grads):
        shrink(w, eta, training.lmbda, n)
        grad_w *= eta  # eta dC/dW in place: a temporary the size of W would cost ~15% of an epoch
        w -= grad_w
        grad_b *= eta
        b -= grad_b


class Model:
    """A spec's network and its parameters as NumPy arrays of the spec's dtype."""

    def __init__(self, spec, params, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        self.network = Network(spec.network)
        self.load(params)

    def train_epoch(self, data, plan, eta, on_step=None):
        """One pass over the training data in the plan's order, one SGD step per mini-batch."""
        training, network, params = self.spec.training, self.network, self.params
        n = len(data.x)  # the whole training set: the n of lambda / n
        masks, has_dropout = [None] * len(params), self.spec.network.has_dropout
        with np.errstate(over="ignore", invalid="ignore"):  # a diverging run is named by conformance.run.training
            for start, stop in batch_bounds(len(plan.order), training.batch_size):
                batch = plan.order[start:stop]
                if has_dropout:
                    masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
                grads = backprop(network, params, data.x[batch], data.y[batch], masks)
                sgd_step(training, params, grads, eta, n)
                if on_step is not None:
                    on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of a batch's regularised mean cost, for NumPy x, y and masks, as NumPy pairs."""
        dtype = np.dtype(self.spec.training.dtype)
        with np.errstate(over="ignore"):  # e^-z of a saturated sigmoid: see Sigmoid.fn
            return gradients(self.network, self.spec.training, self.params, x.astype(dtype), y.astype(dtype), masks, n)

    def evaluate(self, x, labels, y):
        """(correct count, sum of the examples' costs) on a part of a data set."""
        with np.errstate(over="ignore"):  # e^-z of a saturated sigmoid: see Sigmoid.fn
            return evaluate(self.network, self.params, x, labels, y)

    def predict(self, x):
        """The class of each example of a part of a data set (the index of its highest output), as NumPy."""
        with np.errstate(over="ignore"):  # e^-z of a saturated sigmoid: see Sigmoid.fn
            return predict(self.network, self.params, x)

    def penalty(self, n):
        """The regulariser's term of the cost for a data set of n examples."""
        return float(penalty(self.spec.training, self.params, n))

    def parameters(self):
        """The parameters in the canonical layout, as NumPy arrays (copies)."""
        return [(w.copy(), b.copy()) for w, b in self.params]

    def load(self, params):
        """Set the parameters from the canonical layout (copies, in the spec's dtype)."""
        dtype = np.dtype(self.spec.training.dtype)
        self.params = [(np.array(w, dtype=dtype), np.array(b, dtype=dtype)) for w, b in params]
