"""Stochastic gradient descent: the update rule, and one epoch of mini-batches.

The epoch loop around this (monitoring, early stopping, the eta schedule, the search for the
step where a run diverged) is shared by every backend and lives in conformance.run.training; this
file holds only what PyTorch does itself. An epoch here is a Python loop over the mini-batches,
one SGD step each; there is no `_scanned_epoch`, the one compiled lax.scan that jax_impl/train.py
makes of the same loop.
"""

from functools import partial

import numpy as np
import torch

from conformance.data.streams import batch_bounds

from .device import asarray, resolve_device, torch_dtype
from .network import Network, backprop, evaluate, forward, gradients, penalty, predict
from .regularizers import REGULARIZERS


def sgd_step(training, params, grads, eta, n):
    """W <- W - (regulariser's step) - eta dC/dW, and b <- b - eta dC/db, in place (ch. 1 and 3).

    `grads` are those of the batch's mean cost, so the book's 1/m is already inside them, with m
    the batch's own size. The update is not part of the graph that autograd records.
    """
    shrink = REGULARIZERS[training.regularizer].shrink
    with torch.no_grad():
        for (w, b), (grad_w, grad_b) in zip(params, grads):
            shrink(w, eta, training.lmbda, n)
            w.sub_(grad_w, alpha=eta)
            b.sub_(grad_b, alpha=eta)


class Model:
    """A spec's network as torch.nn.Modules, its parameters as tensors of the spec's dtype on one device."""

    def __init__(self, spec, params, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        self.dtype = torch_dtype(spec.training.dtype, self.device)
        self.network = Network(spec.network)
        self.load(params)

    def train_epoch(self, data, plan, eta, on_step=None):
        """One pass over the training data in the plan's order, one SGD step per mini-batch."""
        training, network, params = self.spec.training, self.network, self.params
        n = len(data.x)  # the whole training set: the n of lambda / n
        order = torch.as_tensor(plan.order, device=self.device)
        all_masks = [None if mask is None else torch.as_tensor(mask, device=self.device) for mask in plan.masks]
        masks, has_dropout = [None] * len(params), self.spec.network.has_dropout
        for start, stop in batch_bounds(len(order), training.batch_size):
            batch = order[start:stop]
            if has_dropout:
                masks = [None if mask is None else mask[start:stop] for mask in all_masks]
            # index_select gathers the rows as x[batch] does, in half the time (no indexing machinery)
            x, y = torch.index_select(data.x, 0, batch), torch.index_select(data.y, 0, batch)
            grads = backprop(network, params, x, y, masks)
            sgd_step(training, params, grads, eta, n)
            if on_step is not None:
                on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of a batch's regularised mean cost, for NumPy x, y and masks, as NumPy pairs."""
        x, y = (asarray(array, self.device).to(self.dtype) for array in (x, y))
        masks = [None if mask is None else asarray(mask, self.device) for mask in masks]
        grads = gradients(self.network, self.spec.training, self.params, x, y, masks, n)
        return [(_numpy(grad_w), _numpy(grad_b)) for grad_w, grad_b in grads]

    def evaluate(self, x, labels, y):
        """(correct count, sum of the examples' costs) on a part of a data set."""
        return evaluate(self.network, self.params, x, labels, y)

    def predict(self, x):
        """The class of each example of a part of a data set (the index of its highest output), as NumPy."""
        return _numpy(predict(self.network, self.params, x))

    def penalty(self, n):
        """The regulariser's term of the cost for a data set of n examples."""
        with torch.no_grad():
            return float(penalty(self.spec.training, self.params, n))

    def parameters(self):
        """The parameters in the canonical layout, as NumPy arrays (copies)."""
        return [(_numpy(w), _numpy(b)) for w, b in self.params]

    def load(self, params):
        """Set the parameters from the canonical layout: new leaf tensors that autograd differentiates."""
        self.params = [
            tuple(torch.tensor(array, dtype=self.dtype, device=self.device, requires_grad=True) for array in pair)
            for pair in params
        ]


class Ensemble:
    """k members of one spec trained as one computation: their parameters stacked along a new leading
    axis, and each mini-batch's gradients of every member at once, torch.func.grad vmapped over them.

    Member i is the Model that `members[i]` would make: its own order, dropout masks and eta
    (conformance checks it against the member trained alone).
    """

    def __init__(self, spec, members, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        self.dtype = torch_dtype(spec.training.dtype, self.device)
        self.network = Network(spec.network)
        self.params = [
            tuple(
                torch.tensor(np.stack([member[layer][i] for member in members]), dtype=self.dtype, device=self.device)
                for i in (0, 1)
            )
            for layer in range(len(spec.network.layers))
        ]
        self.size = len(members)

    def train_epoch(self, data, plans, etas):
        """One epoch of every member, member i through plans[i] with learning rate etas[i]: one SGD step
        of all of them per mini-batch.

        Where the members visit the examples in one order (`shuffle = false`, as in chapter 6), a
        mini-batch is one tensor for all of them, not one per member.
        """
        training = self.spec.training
        n = len(data.x)  # the whole training set: the n of lambda / n
        shared_order = all(np.array_equal(plan.order, plans[0].order) for plan in plans)
        orders = np.stack([plan.order for plan in (plans[:1] if shared_order else plans)])
        orders = torch.as_tensor(orders, device=self.device)
        dropped = [layer for layer, mask in enumerate(plans[0].masks) if mask is not None]
        all_masks = [
            torch.as_tensor(np.stack([plan.masks[layer] for plan in plans]), device=self.device) for layer in dropped
        ]
        batch_dim = None if shared_order else 0
        member_gradients = torch.func.vmap(
            torch.func.grad(partial(_mean_cost, self.network, dropped)), in_dims=(0, batch_dim, batch_dim, 0)
        )
        for start, stop in batch_bounds(orders.shape[1], training.batch_size):
            rows = orders[:, start:stop]
            x, y = data.x[rows], data.y[rows]
            if shared_order:
                x, y = x[0], y[0]
            grads = member_gradients(self.params, x, y, [mask[:, start:stop] for mask in all_masks])
            _members_sgd_step(training, self.params, grads, etas, n)

    def parameters(self):
        """Each member's parameters in the canonical layout, as NumPy arrays (copies)."""
        return [[(_numpy(w[member]), _numpy(b[member])) for w, b in self.params] for member in range(self.size)]


def _mean_cost(network, dropped, params, x, y, masks):
    """One member's mean cost on a mini-batch; `masks` are those of the layers `dropped` alone, since
    vmap takes no None."""
    layer_masks = [None] * len(params)
    for layer, mask in zip(dropped, masks):
        layer_masks[layer] = mask
    z, a = forward(network, params, x, layer_masks)
    return torch.mean(network.cost.fn(z, a, y))


def _members_sgd_step(training, params, grads, etas, n):
    """sgd_step for every member: on the stacked tensors at once when the members share one eta, else
    member by member on their views."""
    if len(set(etas)) == 1:
        sgd_step(training, params, grads, etas[0], n)
        return
    for member, eta in enumerate(etas):
        member_params = [(w[member], b[member]) for w, b in params]
        sgd_step(training, member_params, [(grad_w[member], grad_b[member]) for grad_w, grad_b in grads], eta, n)


def _numpy(tensor):
    return tensor.detach().cpu().numpy().copy()
