"""Stochastic gradient descent: the update rule, and one epoch of mini-batches as one compiled scan.

The epoch loop around this (monitoring, early stopping, the eta schedule) is shared by every
backend and lives in conformance.training; this file holds only what JAX does itself. Where
the other backends loop over the mini-batches in Python, here a whole epoch is one call of a
jitted `jax.lax.scan`: Python dispatches once an epoch, and XLA compiles it once per shape of
network, training set and mini-batch.
"""

from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from conformance.errors import DivergenceError, NndlError
from conformance.streams import batch_bounds

from .network import backprop, evaluate, gradients, one_hot
from .regularizers import REGULARIZERS
from .streams import NativeEpochPlan, step_masks

DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


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


@dataclass(frozen=True)
class Dataset:
    """A data set in this backend's arrays: inputs in the training dtype, labels, one-hot outputs."""

    x: jax.Array
    labels: jax.Array
    y: jax.Array


def prepare_data(images, labels, n_classes, dtype, device="cpu"):
    device = resolve_device(device)
    dtype = jax_dtype(dtype)
    x = jax.device_put(np.asarray(images, dtype=dtype), device)
    labels = jax.device_put(np.asarray(labels, dtype=np.int32), device)
    return Dataset(x=x, labels=labels, y=one_hot(labels, n_classes, dtype))


def jax_dtype(name):
    """The JAX dtype of a spec's dtype, refusing float64 when JAX would quietly make it float32.

    JAX computes in float32 unless its x64 mode is on: jax_impl turns it on when imported (see
    jax_impl/__init__.py), and this check catches anything that turned it off since.
    """
    if name == "float64" and not jax.config.jax_enable_x64:
        raise NndlError(
            "float64 needs JAX's x64 mode, and something turned it off after jax_impl turned it on; "
            "set JAX_ENABLE_X64=1, or use --dtype float32"
        )
    return DTYPES[name]


def resolve_device(name):
    """The jax.Device for --device cpu or cuda, or a one-line error saying what to do."""
    if name == "cpu":
        return jax.devices("cpu")[0]
    if name == "cuda":
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:
            raise NndlError(
                f"--device cuda: this jax ({jax.__version__}) sees no GPU; use --device cpu, or install "
                "jax[cuda12] on a machine with an NVIDIA GPU"
            ) from None
    if name == "mps":
        raise NndlError("--device mps: the jax backend does not run on Apple MPS; use --device cpu")
    raise NndlError(f"unknown device {name!r}; choose one of: cpu, cuda, mps")


class Model:
    """A spec's network and its parameters as a pytree of JAX arrays of the spec's dtype, on one device."""

    def __init__(self, spec, params, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        self.dtype = jax_dtype(spec.training.dtype)
        self.params = tuple((self._array(w), self._array(b)) for w, b in params)

    def train_epoch(self, data, plan, eta, on_step=None):
        """One pass over the training data in the plan's order, one SGD step per mini-batch, in one call.

        NaN and inf are looked for once, at the end of the epoch; if any turned up, the epoch is
        run again from its start, recording after every step whether the parameters are still
        finite, to name the step where training diverged. The compiled epoch does not call back
        into Python (a round trip to the host per step would cost more than a step), so `on_step`
        is called once per step when the epoch has finished.
        """
        network, training = self.spec.network, self.spec.training
        batches = _scanned_batches(network, plan, training.batch_size, self.dtype, self.device)
        step_size = jnp.asarray(eta, self.dtype)
        rule = _Regularization(training.regularizer, training.lmbda)
        params, _ = _scanned_epoch(self.params, data.x, data.y, batches, step_size, network, rule, False)
        if not _all_finite(params):
            _, finite = _scanned_epoch(self.params, data.x, data.y, batches, step_size, network, rule, True)
            raise DivergenceError(plan.epoch, int(np.argmin(np.asarray(finite))) + 1, eta)
        self.params = params
        for _ in range(len(batches.rows) if on_step is not None else 0):
            on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of a batch's regularised mean cost, for NumPy x, y and masks, as NumPy pairs."""
        masks = [None if mask is None else jax.device_put(mask, self.device) for mask in masks]
        grads = gradients(self.spec.network, self.spec.training, self.params, self._array(x), self._array(y), masks, n)
        return [(np.array(grad_w), np.array(grad_b)) for grad_w, grad_b in grads]

    def evaluate(self, data):
        """(correct count, total cost) on a data set."""
        return evaluate(self.spec.network, self.spec.training, self.params, data.x, data.labels)

    def parameters(self):
        """The parameters in the canonical layout, as NumPy arrays (copies)."""
        return [(np.array(w), np.array(b)) for w, b in self.params]

    def _array(self, array):
        """A NumPy array as a JAX array of the spec's dtype on this model's device."""
        return jax.device_put(np.asarray(array, dtype=self.dtype), self.device)


class _Regularization(NamedTuple):
    """What sgd_step reads of the training settings: all that the compiled epoch is specialised on, so
    that a new eta, number of epochs or schedule reuses it."""

    regularizer: str
    lmbda: float


class _Batches(NamedTuple):
    """An epoch's mini-batches stacked for lax.scan, one leading row per step."""

    rows: jax.Array  # (steps, m): indices into the training set, a short last batch padded with 0
    real: jax.Array | None  # (steps, m): 1 for a real example, 0 for padding; None when there is none
    masks: list  # per layer, (steps, m, n_in) dropout keep-masks or None; None when drawn from `keys`
    keys: jax.Array | None  # (steps,) jax.random keys, one per step, for --rng native


def _scanned_batches(network, plan, batch_size, dtype, device):
    """The plan's order (and masks) cut into mini-batches of equal shape for the scan, on `device`.

    A last, shorter batch is padded to m rows; `real` marks the padding, which the mean cost
    leaves out, so that the step still divides by that batch's own size. (With no padding,
    `real` is None and the mean is a plain one: a different shape of input, compiled apart.)
    """
    n_rows = len(plan.order)
    n_steps = len(batch_bounds(n_rows, batch_size))
    padding = n_steps * batch_size - n_rows
    real = None
    if padding:
        real = np.ones(n_steps * batch_size, dtype=dtype)
        real[n_rows:] = 0
        real = real.reshape(n_steps, batch_size)
    if isinstance(plan, NativeEpochPlan):  # its order is already on the device: pad it there
        rows = jnp.pad(plan.order, (0, padding)).reshape(n_steps, batch_size)
        return _Batches(rows, jax.device_put(real, device), [None] * len(network.layers), plan.step_keys)
    rows = np.pad(plan.order, (0, padding)).reshape(n_steps, batch_size)
    masks = [
        None if mask is None else np.pad(mask, ((0, padding), (0, 0))).reshape(n_steps, batch_size, -1)
        for mask in plan.masks
    ]
    return _Batches(*jax.device_put((rows, real, masks), device), None)


@partial(jax.jit, static_argnums=(5, 6, 7))
def _scanned_epoch(params, x, y, batches, eta, network, regularization, check_each_step):
    """Every SGD step of an epoch, as one lax.scan; with check_each_step, also whether each step left
    the parameters finite."""
    n = x.shape[0]  # the whole training set: the n of lambda / n

    def step(params, batch):
        masks = batch.masks if batch.keys is None else step_masks(network, batch.keys, batch.rows.shape[0])
        grads = backprop(network, params, x[batch.rows], y[batch.rows], masks, batch.real)
        params = sgd_step(regularization, params, grads, eta, n)
        return params, (_all_finite(params) if check_each_step else None)

    return jax.lax.scan(step, params, batches)


def _all_finite(params):
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(t)) for t in jax.tree.leaves(params)]))
