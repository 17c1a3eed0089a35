"""The baseline for `nndl bench`: the same math as this backend, written with nothing around it.

- `bare_epoch`: one epoch for sigmoid networks with the quadratic or cross-entropy cost and no
  dropout, as a minimal jit + lax.scan: the forward pass, jax.grad for the gradient, and the
  update. It is what the JAX backend costs when nothing is paid for readability (no cost or
  regulariser tables, no padding of a short last batch, no divergence check); the bench holds
  the backend to within 1.3x of it.
- `bench_rows`: the backend and this loop as rows of the bench, on a device, with the ratio held to.

The book's per-example algorithm (`per_example_backprop`, `per_example_gradients`, `per_example_epoch`)
is a baseline for the reference only (reference/baseline.py): it measures how much vectorising a
mini-batch gains, which does not depend on the framework.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from conformance.contract import BACKEND_ROW, BARE_LOOP, BenchRow, Ratio
from conformance.training import prepare_data

from .device import asarray, jax_dtype, resolve_device
from .train import Model


def bare_epoch(params, x, y, order, batch_size, eta, cost, lmbda=0.0):
    """One epoch of SGD on a sigmoid network (ch. 1; ch. 3's cross-entropy cost and L2 decay); returns the new params.

    params is a tuple of (W, b) arrays; x, y and order are arrays on one device. The gradient is
    jax.grad's (BP1-BP4); the update is w <- (1 - eta lambda / n) w - eta dC/dw and b <- b - eta dC/db,
    with n = len(x). The whole mini-batches are one scan; a last, shorter one is one more step.
    """
    n_whole = len(order) // batch_size * batch_size
    whole_batches = order[:n_whole].reshape(-1, batch_size)
    params = _scan(params, x, y, whole_batches, eta, lmbda, cost)
    if n_whole < len(order):
        params = _scan(params, x, y, order[n_whole:][None, :], eta, lmbda, cost)
    return params


@partial(jax.jit, static_argnums=6)
def _scan(params, x, y, batches, eta, lmbda, cost):
    decay = 1.0 - eta * lmbda / len(x)

    def mean_cost(params, a, targets):
        for w, b in params:
            z = a @ w.T + b
            a = jax.nn.sigmoid(z)
        if cost == "quadratic":
            per_example = 0.5 * jnp.sum((a - targets) ** 2, axis=1)  # eq. 6
        else:  # the cross-entropy from z, as jax_impl.costs computes it: softplus(z) - y z
            per_example = jnp.sum(jnp.logaddexp(0.0, z) - targets * z, axis=1)
        return jnp.mean(per_example)

    def step(params, rows):
        grads = jax.grad(mean_cost)(params, x[rows], y[rows])
        new = tuple((decay * w - eta * gw, b - eta * gb) for (w, b), (gw, gb) in zip(params, grads))
        return new, None

    return jax.lax.scan(step, params, batches)[0]


def synchronize(device, results):
    """Wait until `results` are computed: JAX dispatches asynchronously, and the bench times the work,
    not its queueing. The arrays know their device, so `device` need not be named."""
    jax.block_until_ready(results)


def bench_rows(spec, training_split, device):
    """The JAX backend and the bare jit + scan loop, as rows on `device`, with their own copy of the data there."""
    training, eta = spec.training, spec.training.eta
    where = resolve_device(device)
    dtype = jax_dtype(training.dtype)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(asarray, training_split.images, training_split.labels, n_classes, training.dtype, device)

    def start_backend(params):
        model = Model(spec, params, device)

        def run_epoch(plan):
            model.train_epoch(data, plan, eta)
            synchronize(where, model.params)

        return run_epoch, model.parameters

    def start_bare(params):
        own = [tuple(jax.device_put(np.asarray(array, dtype=dtype), where) for array in pair) for pair in params]
        cost = spec.network.cost

        def run_epoch(plan):
            order = jax.device_put(plan.order, where)
            own[:] = bare_epoch(tuple(own), data.x, data.y, order, training.batch_size, eta, cost, training.lmbda)
            synchronize(where, own)

        def parameters():
            return [tuple(np.array(array) for array in pair) for pair in own]

        return run_epoch, parameters

    return [
        BenchRow("jax backend", start_backend, BACKEND_ROW),
        BenchRow(
            "jax bare loop",
            start_bare,
            BARE_LOOP,
            Ratio("jax backend / jax bare loop", "jax backend", "jax bare loop", ".2f", "at most 1.3x"),
        ),
    ]
