"""Stochastic gradient descent: the update rule, and one epoch of mini-batches as one compiled scan.

The epoch loop around this (monitoring, early stopping, the eta schedule, the search for the
step where a run diverged) is shared by every backend and lives in conformance.run.training; this
file holds only what JAX does itself. Where the other backends loop over the mini-batches in
Python, here a whole epoch is one call of a jitted function: a `jax.lax.scan` over the whole
mini-batches, then the last, shorter one if there is one. Python dispatches once an epoch, and
XLA compiles it once per shape of network, training set and mini-batch.
"""

from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .device import asarray, jax_dtype, resolve_device
from .network import Network, backprop, evaluate, gradients, penalty, predict
from .regularizers import REGULARIZERS
from .streams import NativeEpochPlan, step_masks


def sgd_step(training, params, grads, eta, n):
    """W <- W - (regulariser's step) - eta dC/dW, and b <- b - eta dC/db (ch. 1 and 3), as new arrays.

    `grads` are those of the batch's mean cost, so the book's 1/m is already inside them, with m
    the batch's own size.
    """
    shrink = REGULARIZERS[training.regularizer].shrink
    return tuple(
        (shrink(w, eta, training.lmbda, n) - eta * grad_w, b - eta * grad_b)
        for (w, b), (grad_w, grad_b) in zip(params, grads)
    )


class Model:
    """A spec's network and its parameters as a pytree of JAX arrays of the spec's dtype, on one device."""

    def __init__(self, spec, params, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        self.dtype = jax_dtype(spec.training.dtype)
        self.network = Network(spec.network)
        self.load(params)

    def train_epoch(self, data, plan, eta, on_step=None):
        """One pass over the training data in the plan's order, one SGD step per mini-batch, in one call.

        The compiled epoch does not call back into Python (a round trip to the host per step
        would cost more than a step), so `on_step` is called once per step when the epoch has
        finished.
        """
        batches = _epoch_batches(self.network, plan, self.spec.training.batch_size, self.device)
        rule = _Regularization(self.spec.training.regularizer, self.spec.training.lmbda)
        step_size = jnp.asarray(eta, self.dtype)
        self.params = _scanned_epoch(self.params, data.x, data.y, batches, step_size, self.network, rule)
        for _ in range(batches.n_steps if on_step is not None else 0):
            on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of a batch's regularised mean cost, for NumPy x, y and masks, as NumPy pairs."""
        x, y = (asarray(np.asarray(array, dtype=self.dtype), self.device) for array in (x, y))
        masks = [None if mask is None else asarray(mask, self.device) for mask in masks]
        grads = gradients(self.network, self.spec.training, self.params, x, y, masks, n)
        return [(np.array(grad_w), np.array(grad_b)) for grad_w, grad_b in grads]

    def evaluate(self, x, labels, y):
        """(correct count, sum of the examples' costs) on a part of a data set."""
        correct, cost_sum = evaluate(self.network, self.params, x, labels, y)
        return int(correct), float(cost_sum)

    def predict(self, x):
        """The class of each example of a part of a data set (the index of its highest output), as NumPy."""
        return np.array(predict(self.network, self.params, x))

    def penalty(self, n):
        """The regulariser's term of the cost for a data set of n examples."""
        return float(penalty(self.spec.training, self.params, n))

    def parameters(self):
        """The parameters in the canonical layout, as NumPy arrays (copies)."""
        return [(np.array(w), np.array(b)) for w, b in self.params]

    def load(self, params):
        """Set the parameters from the canonical layout, as arrays of the spec's dtype on this model's device."""
        self.params = tuple(
            tuple(asarray(np.asarray(array, dtype=self.dtype), self.device) for array in pair) for pair in params
        )


class Ensemble:
    """k members of one spec trained as one computation: their parameters stacked along a new leading
    axis, and the members' epochs in one jitted call, the scanned epoch `jax.vmap`ped over them.

    Member i is the Model that `members[i]` would make: its own order, dropout masks and eta, the
    same arithmetic per member (conformance checks it against the member trained alone).

    On a CPU the members are split into one group per core, each group one vmapped call on its own
    CPU device (jax_impl/__init__.py makes one per core), the groups side by side in threads. XLA
    runs one call's small operations on one core: on 2 cores, five members in one call took 3.6-3.7
    times one member's epoch, and as groups of three and two 2.7-3.0 times (README, Ensembles).
    """

    def __init__(self, spec, members, device="cpu"):
        self.spec = spec
        self.dtype = jax_dtype(spec.training.dtype)
        self.network = Network(spec.network)
        self.groups = _member_groups(len(members), resolve_device(device))
        self.params = [_stacked([members[i] for i in indices], self.dtype, place) for place, indices in self.groups]

    def train_epoch(self, data, plans, etas):
        """One epoch of every member, member i through plans[i] with learning rate etas[i], in one call
        per group of members; returns when every group's epoch is done."""
        rule = _Regularization(self.spec.training.regularizer, self.spec.training.lmbda)

        def train_group(group, params):
            place, indices = group
            batches, shared_order = self._group_batches([plans[i] for i in indices], place)
            group_etas = asarray(np.array([etas[i] for i in indices], dtype=self.dtype), place)
            x, y = jax.device_put(data.x, place), jax.device_put(data.y, place)
            epochs = _vmapped_epochs(params, x, y, batches, group_etas, self.network, rule, shared_order)
            return jax.block_until_ready(epochs)

        with ThreadPoolExecutor(len(self.groups)) as threads:
            self.params = list(threads.map(train_group, self.groups, self.params))

    def _group_batches(self, plans, place):
        """The group's mini-batches stacked member by member, and whether the members share one order."""
        members = [_epoch_batches(self.network, plan, self.spec.training.batch_size, place) for plan in plans]
        batches = jax.tree.map(lambda *rows: jnp.stack(rows), *members)
        shared_order = all(np.array_equal(plan.order, plans[0].order) for plan in plans)
        if shared_order:  # one copy of the rows, unbatched: see _vmapped_epochs
            batches = _EpochBatches(
                *(None if steps is None else steps._replace(rows=steps.rows[0]) for steps in batches)
            )
        return batches, shared_order

    def parameters(self):
        """Each member's parameters in the canonical layout, as NumPy arrays (copies)."""
        members = []
        for params in self.params:
            arrays = [(np.array(w), np.array(b)) for w, b in params]
            members += [[(w[member], b[member]) for w, b in arrays] for member in range(len(arrays[0][0]))]
        return members


def _member_groups(k, device):
    """The members 0..k-1 in contiguous groups, one per CPU device (each a core), or one on a GPU.

    Each group has two members or more: vmapped over an axis of one, a member's epoch rounds
    differently from its epoch alone (9e-17 apart in conformance's dense case).
    """
    places = jax.devices("cpu") if device.platform == "cpu" else [device]
    groups = np.array_split(np.arange(k), max(1, min(k // 2, len(places))))
    return [(place, [int(i) for i in group]) for place, group in zip(places, groups)]


def _stacked(members, dtype, place):
    """The members' parameters stacked layer by layer along a new leading axis, on `place`."""
    return tuple(
        tuple(
            asarray(np.stack([np.asarray(member[layer][i], dtype=dtype) for member in members]), place) for i in (0, 1)
        )
        for layer in range(len(members[0]))
    )


class _Regularization(NamedTuple):
    """What sgd_step reads of the training settings: all that the compiled epoch is specialised on, so
    that a new eta, number of epochs or schedule reuses it."""

    regularizer: str
    lmbda: float


class _Steps(NamedTuple):
    """Mini-batches of one size, stacked for lax.scan: one leading row per step (none for a single step)."""

    rows: jax.Array  # (steps, m) or (m,): indices into the training set
    masks: list  # per layer, (steps, m, *mask shape) dropout keep-masks or None; None when drawn from `keys`
    keys: jax.Array | None  # (steps,) or one jax.random key per step, for --rng native


class _EpochBatches(NamedTuple):
    """An epoch's mini-batches: the whole ones, stacked for the scan, and a last, shorter one."""

    whole: _Steps | None
    last: _Steps | None

    @property
    def n_steps(self):
        return (0 if self.whole is None else len(self.whole.rows)) + (self.last is not None)


def _epoch_batches(network, plan, batch_size, device):
    """The plan's order (and masks, or with --rng native its keys) cut into mini-batches, on `device`."""
    n_rows = len(plan.order)
    n_whole = n_rows // batch_size
    native = isinstance(plan, NativeEpochPlan)

    def steps(rows, stacked):
        shape = (-1, batch_size) if stacked else (-1,)
        order = plan.order[rows].reshape(shape)
        if native:  # the order and keys are already on the device
            keys = plan.step_keys[:n_whole] if stacked else plan.step_keys[-1]
            return _Steps(order, [None] * len(network.layers), keys)
        masks = [None if mask is None else mask[rows].reshape(*shape, *mask.shape[1:]) for mask in plan.masks]
        return _Steps(*jax.device_put((order, masks), device), None)

    whole = steps(slice(0, n_whole * batch_size), stacked=True) if n_whole else None
    last = steps(slice(n_whole * batch_size, n_rows), stacked=False) if n_rows > n_whole * batch_size else None
    return _EpochBatches(whole, last)


@partial(jax.jit, static_argnums=(5, 6))
def _scanned_epoch(params, x, y, batches, eta, network, regularization):
    """Every SGD step of an epoch: a lax.scan over the whole mini-batches, then the last, shorter one."""
    n = x.shape[0]  # the whole training set: the n of lambda / n

    def step(params, batch):
        masks = batch.masks if batch.keys is None else step_masks(network.spec, batch.keys, batch.rows.shape[-1])
        grads = backprop(network, params, x[batch.rows], y[batch.rows], masks)
        return sgd_step(regularization, params, grads, eta, n), None

    if batches.whole is not None:
        params, _ = jax.lax.scan(step, params, batches.whole)
    if batches.last is not None:
        params, _ = step(params, batches.last)
    return params


@partial(jax.jit, static_argnums=(5, 6, 7))
def _vmapped_epochs(params, x, y, batches, etas, network, regularization, shared_order):
    """Every member's epoch at once: the scanned epoch vmapped over the leading axis of the members'
    parameters, mini-batches (order rows and masks) and etas; the training data is shared.

    Where the members visit the examples in one order (`shuffle = false`, as in chapter 6), the rows
    are not batched: a mini-batch is then one array for every member, and vmap turns the members'
    first layers into one matrix product (or convolution) with all their weights side by side,
    not k small ones.
    """
    rows_axis = None if shared_order else 0
    batch_axes = _EpochBatches(*(None if steps is None else _Steps(rows_axis, 0, 0) for steps in batches))

    def member_epoch(member_params, member_batches, eta):
        return _scanned_epoch(member_params, x, y, member_batches, eta, network, regularization)

    return jax.vmap(member_epoch, in_axes=(0, batch_axes, 0))(params, batches, etas)
