"""The baseline for `nndl bench`: the same math as this backend, written with nothing around it.

- `bare_epoch`: one epoch for sigmoid networks with the quadratic or cross-entropy cost and no
  dropout, as a minimal jit + lax.scan: the forward pass, jax.grad for the gradient, and the
  update. It is what the JAX backend costs when nothing is paid for readability (no cost or
  regulariser tables, no padding of a short last batch, no divergence check); the bench holds
  the backend to within 1.3x of it.
- `bare_cnn_epoch`: the same for chapter 6's networks: max-pooling conv layers, then dense layers,
  a softmax output and the log-likelihood cost, with L2 decay or none and no dropout. Its
  convolution is the matrix product (im2col) that jax_impl/convolution.py explains.
- `bench_rows`: the backend and the bare loop that fits the spec as rows of the bench, on a device,
  with the ratios held to.

The book's per-example algorithm (`per_example_backprop`, `per_example_gradients`, `per_example_epoch`)
is a baseline for the reference only (reference/baseline.py): it measures how much vectorising a
mini-batch gains, which does not depend on the framework.
"""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from conformance.backend.contract import BACKEND_ROW, BARE_LOOP, BenchRow, Ratio
from conformance.run.training import prepare_data

from .device import asarray, jax_dtype, resolve_device
from .train import Model


def bare_epoch(params, x, y, order, batch_size, eta, cost, lmbda=0.0):
    """One epoch of SGD on a sigmoid network (ch. 1; ch. 3's cross-entropy cost and L2 decay); returns the new params.

    params is a tuple of (W, b) arrays; x, y and order are arrays on one device. The gradient is
    jax.grad's (BP1-BP4); the update is w <- (1 - eta lambda / n) w - eta dC/dw and b <- b - eta dC/db,
    with n = len(x). The whole mini-batches are one scan; a last, shorter one is one more step.
    """
    for batches in _scanned_batches(order, batch_size):
        params = _scan(params, x, y, batches, eta, lmbda, cost)
    return params


def _scanned_batches(order, batch_size):
    """The order as the rows of the whole mini-batches, then, if there is one, the last, shorter batch
    as a scan of one step."""
    n_whole = len(order) // batch_size * batch_size
    yield order[:n_whole].reshape(-1, batch_size)
    if n_whole < len(order):
        yield order[n_whole:][None, :]


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


def bare_cnn_epoch(params, x, y, order, batch_size, eta, network, lmbda=0.0):
    """One epoch of SGD on a chapter 6 net (conv-pool layers, dense layers, softmax and log-likelihood).

    `network` is the spec's: it gives the input's shape and each layer's type, pooling, tie rule and
    activation. The gradient is jax.grad's; the update is that of bare_epoch. The whole mini-batches
    are one scan; a last, shorter one is one more step.
    """
    for batches in _scanned_batches(order, batch_size):
        params = _cnn_scan(params, x, y, batches, eta, lmbda, network)
    return params


@partial(jax.jit, static_argnums=6)
def _cnn_scan(params, x, y, batches, eta, lmbda, network):
    decay = 1.0 - eta * lmbda / len(x)
    activations = {"sigmoid": jax.nn.sigmoid, "relu": jax.nn.relu}

    def mean_cost(params, a, targets):
        a = a.reshape(len(a), *network.input_shape)
        for layer, (w, b) in zip(network.layers, params):
            if layer.type == "conv":
                u = _correlate(a, w)
                z = (_max_pool_to_all_ties if layer.ties == "all" else _max_pool)(u, layer.pool) + b[:, None, None]
            else:
                z = a.reshape(len(a), -1) @ w.T + b
            if layer.activation != "softmax":
                a = activations[layer.activation](z)
        return jnp.mean(-jnp.sum(targets * jax.nn.log_softmax(z), axis=1))  # eq. 80, from z

    def step(params, rows):
        grads = jax.grad(mean_cost)(params, x[rows], y[rows])
        new = tuple((decay * w - eta * gw, b - eta * gb) for (w, b), (gw, gb) in zip(params, grads))
        return new, None

    return jax.lax.scan(step, params, batches)[0]


def _correlate(x, w):
    """The valid cross-correlation as a matrix product of the kernels and each example's stacked shifted inputs."""
    f, c, kh, kw = w.shape
    rows, cols = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    columns = jnp.stack([x[:, :, p : p + rows, q : q + cols] for p in range(kh) for q in range(kw)], axis=2)
    y = jnp.einsum("fk,mkp->mfp", w.reshape(f, -1), columns.reshape(len(x), c * kh * kw, rows * cols))
    return y.reshape(len(x), f, rows, cols)


def _max_pool(u, size):
    window = (1, 1, size, size)
    return jax.lax.reduce_window(u, -jnp.inf, jax.lax.max, window, window, "VALID")


def _max_pool_to_all_ties(u, size):
    """_max_pool's value, with the gradient going in full to every tied maximum (network3's rule).

    The maxima are found outside the gradient; adding the window sums of (u - u), kept at the
    maxima only, changes no value but routes each window's gradient to all of them.
    """
    pooled = jax.lax.stop_gradient(_max_pool(u, size))
    spread = jnp.repeat(jnp.repeat(pooled, size, axis=2), size, axis=3)
    kept = u[:, :, : spread.shape[2], : spread.shape[3]]
    chosen = jax.lax.stop_gradient(kept) == spread
    window = (1, 1, size, size)
    routed = jnp.where(chosen, kept - jax.lax.stop_gradient(kept), 0.0)
    return pooled + jax.lax.reduce_window(routed, 0.0, jax.lax.add, window, window, "VALID")


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
        network = spec.network

        def run_epoch(plan):
            order = jax.device_put(plan.order, where)
            if network.has_conv:
                own[:] = bare_cnn_epoch(
                    tuple(own), data.x, data.y, order, training.batch_size, eta, network, training.lmbda
                )
            else:
                own[:] = bare_epoch(
                    tuple(own), data.x, data.y, order, training.batch_size, eta, network.cost, training.lmbda
                )
            synchronize(where, own)

        def parameters():
            return [tuple(np.array(array) for array in pair) for pair in own]

        return run_epoch, parameters

    # chapter 6's target for JAX is set by torch, whose convolution XLA's CPU one trails (convolution.py)
    against_torch = Ratio("jax backend / torch bare loop", "jax backend", "torch bare loop", ".2f", "at most 1.3x")
    return [
        BenchRow("jax backend", start_backend, BACKEND_ROW, against_torch if spec.network.has_conv else None),
        BenchRow(
            "jax bare loop",
            start_bare,
            BARE_LOOP,
            Ratio("jax backend / jax bare loop", "jax backend", "jax bare loop", ".2f", "at most 1.3x"),
        ),
    ]
