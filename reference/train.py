"""Stochastic gradient descent: the update rule, and one epoch of mini-batches.

The epoch loop around this (monitoring, early stopping, the eta schedule) is shared by every
backend and lives in conformance.training; this file holds only what NumPy does itself.
"""

from dataclasses import dataclass

import numpy as np

from conformance.errors import DivergenceError, NndlError
from conformance.streams import batch_bounds

from .network import backprop, evaluate, gradients, one_hot
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


@dataclass(frozen=True)
class Dataset:
    """A data set in this backend's arrays: inputs in the training dtype, labels, one-hot outputs."""

    x: np.ndarray
    labels: np.ndarray
    y: np.ndarray


def prepare_data(images, labels, n_classes, dtype, device="cpu"):
    resolve_device(device)
    x = np.ascontiguousarray(images, dtype=dtype)
    return Dataset(x=x, labels=np.asarray(labels), y=one_hot(labels, n_classes, dtype))


def resolve_device(name):
    """NumPy runs on the CPU only: "cpu", or a one-line error saying what to do."""
    if name != "cpu":
        raise NndlError(f"--device {name}: the numpy backend runs on the CPU only; use --backend torch for {name}")
    return name


class Model:
    """A spec's network and its parameters as NumPy arrays of the spec's dtype."""

    def __init__(self, spec, params, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        dtype = np.dtype(spec.training.dtype)
        self.params = [(np.array(w, dtype=dtype), np.array(b, dtype=dtype)) for w, b in params]

    def train_epoch(self, data, plan, eta, on_step=None):
        """One pass over the training data in the plan's order, one SGD step per mini-batch.

        NaN and inf are looked for once, at the end of the epoch, so that the steps pay nothing
        for it; if any turned up, the epoch is replayed from a copy, checking every step, to
        name the step where training diverged.
        """
        at_start = self.parameters()
        with np.errstate(over="ignore", invalid="ignore"):
            self._sgd_steps(data, plan, eta, on_step, check_each_step=False)
            if not _all_finite(self.params):
                self.params = at_start
                self._sgd_steps(data, plan, eta, None, check_each_step=True)
                raise DivergenceError(
                    plan.epoch, len(batch_bounds(len(plan.order), self.spec.training.batch_size)), eta
                )

    def _sgd_steps(self, data, plan, eta, on_step, check_each_step):
        network, training, params = self.spec.network, self.spec.training, self.params
        n = len(data.x)  # the whole training set: the n of lambda / n
        masks, has_dropout = [None] * len(params), network.has_dropout
        for step, (start, stop) in enumerate(batch_bounds(len(plan.order), training.batch_size), start=1):
            batch = plan.order[start:stop]
            if has_dropout:
                masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
            grads = backprop(network, params, data.x[batch], data.y[batch], masks)
            sgd_step(training, params, grads, eta, n)
            if check_each_step and not _all_finite(params):
                raise DivergenceError(plan.epoch, step, eta)
            if on_step is not None:
                on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of a batch's regularised mean cost, for NumPy x, y and masks, as NumPy pairs."""
        dtype = np.dtype(self.spec.training.dtype)
        with np.errstate(over="ignore"):  # e^-z of a saturated sigmoid: see Sigmoid.fn
            return gradients(
                self.spec.network, self.spec.training, self.params, x.astype(dtype), y.astype(dtype), masks, n
            )

    def evaluate(self, data):
        """(correct count, total cost) on a data set."""
        return evaluate(self.spec.network, self.spec.training, self.params, data.x, data.labels)

    def parameters(self):
        """The parameters in the canonical layout, as NumPy arrays (copies)."""
        return [(w.copy(), b.copy()) for w, b in self.params]


def _all_finite(params):
    return all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in params)
