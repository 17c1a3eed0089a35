"""Baselines for `nndl bench`: the same math as the reference, written two other ways, and the rows.

- `bare_epoch`: one vectorised epoch with no abstraction at all, for sigmoid networks with the
  quadratic or cross-entropy cost and no dropout. It is what the reference costs when nothing
  is paid for readability; the bench holds the reference to within 1.3x of it.
- `bare_cnn_epoch`: the same for chapter 6's networks: max-pooling conv layers, then dense layers,
  a softmax output and the log-likelihood cost, with L2 decay or none and no dropout; backprop
  through the conv layers written out as in reference/convolution.py.
- `per_example_epoch`: the book's own algorithm, the slow way. Backprop runs once per training
  example on vectors, and a mini-batch's gradient is the mean of its examples' gradients.
- `bench_rows`: the reference and these two as rows of the bench, each with the ratio it is held to.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from conformance.backend.contract import BACKEND_ROW, BARE_LOOP, PER_EXAMPLE, BenchRow, Ratio
from conformance.data.streams import batch_bounds
from conformance.run.training import prepare_data

from .activations import ACTIVATIONS
from .costs import COSTS
from .device import asarray
from .train import Model, sgd_step


def bare_epoch(params, x, y, order, batch_size, eta, cost, lmbda=0.0):
    """One epoch of SGD on a sigmoid network, written out flat; params are updated in place."""
    decay = 1.0 - eta * lmbda / len(x)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        a, targets = x[batch], y[batch]
        inputs, outputs = [], []
        for w, b in params:
            inputs.append(a)
            a = 1.0 / (1.0 + np.exp(-(a @ w.T + b)))
            outputs.append(a)
        delta = (a - targets) * (a * (1.0 - a)) if cost == "quadratic" else a - targets
        delta = delta / len(batch)
        for l in range(len(params) - 1, -1, -1):
            w, b = params[l]
            grad_w, grad_b = delta.T @ inputs[l], delta.sum(axis=0)
            if l > 0:
                delta = (delta @ w) * (outputs[l - 1] * (1.0 - outputs[l - 1]))
            if decay != 1.0:
                w *= decay
            grad_w *= eta
            w -= grad_w
            grad_b *= eta
            b -= grad_b


def bare_cnn_epoch(params, x, y, order, batch_size, eta, network, lmbda=0.0):
    """One epoch of SGD on a chapter 6 net (conv-pool layers, dense layers, softmax and log-likelihood), flat.

    `network` is the spec's: it gives the input's shape and each layer's type, pooling, tie rule and
    activation. params are updated in place.
    """
    decay = 1.0 - eta * lmbda / len(x)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        a, targets = x[batch].reshape(len(batch), *network.input_shape), y[batch]
        inputs, outputs, choices, correlation_shapes = [], [], [], []
        for layer, (w, b) in zip(network.layers, params):
            inputs.append(a)
            if layer.type == "conv":
                windows = sliding_window_view(a, w.shape[2:], axis=(2, 3))  # (m, c, H', W', kh, kw)
                u = np.tensordot(w, windows, axes=((1, 2, 3), (1, 4, 5))).transpose(1, 0, 2, 3)
                pooled, chosen = _max_pool(u, layer.pool, layer.ties)
                choices.append(chosen)
                correlation_shapes.append(u.shape[2:])
                z = pooled + b[:, None, None]
            else:
                z = a.reshape(len(a), -1) @ w.T + b
                choices.append(None)
                correlation_shapes.append(None)
            if layer.activation != "softmax":
                a = np.maximum(z, 0) if layer.activation == "relu" else 1.0 / (1.0 + np.exp(-z))
            outputs.append(a)
        softmax = np.exp(z - z.max(axis=1, keepdims=True))
        delta = (softmax / softmax.sum(axis=1, keepdims=True) - targets) / len(batch)  # BP1 for eq. 80
        for l in range(len(params) - 1, -1, -1):
            w, b = params[l]
            layer_input = inputs[l]
            if network.layers[l].type == "conv":
                delta_u = _max_unpool(delta, choices[l], network.layers[l].pool, correlation_shapes[l])
                windows = sliding_window_view(layer_input, w.shape[2:], axis=(2, 3))
                grad_w = np.tensordot(delta_u, windows, axes=((0, 2, 3), (0, 2, 3)))
                grad_b = delta.sum(axis=(0, 2, 3))
                if l > 0:
                    k = w.shape[2] - 1
                    padded = np.pad(delta_u, ((0, 0), (0, 0), (k, k), (k, k)))
                    flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (channels, filters, kh, kw)
                    shifted = sliding_window_view(padded, w.shape[2:], axis=(2, 3))
                    delta = np.tensordot(flipped, shifted, axes=((1, 2, 3), (1, 4, 5))).transpose(1, 0, 2, 3)
            else:
                grad_w = delta.T @ layer_input.reshape(len(layer_input), -1)
                grad_b = delta.sum(axis=0)
                if l > 0:
                    delta = (delta @ w).reshape(outputs[l - 1].shape)
            if l > 0:
                below = outputs[l - 1]
                delta = delta * ((below > 0) if network.layers[l - 1].activation == "relu" else below * (1.0 - below))
            if decay != 1.0:
                w *= decay
            w -= eta * grad_w
            b -= eta * grad_b


def _max_pool(u, size, ties):
    """Max-pooling's result and where each window's gradient goes: (size * size, m, c, H/s, W/s) booleans,
    one array per place in the window, row-major (entry (p, q) of every window is u[:, :, p::s, q::s])."""
    rows, cols = u.shape[2] // size * size, u.shape[3] // size * size
    windows = np.stack([u[:, :, p:rows:size, q:cols:size] for p in range(size) for q in range(size)])
    pooled = windows.max(axis=0)
    if ties == "all":
        return pooled, windows == pooled
    return pooled, np.arange(size * size)[:, None, None, None, None] == windows.argmax(axis=0)


def _max_unpool(delta, chosen, size, correlation_shape):
    """dC/du from dC/dpooled: each window's gradient where `chosen` says, zeros elsewhere and in a ragged border."""
    delta_u = np.zeros((*delta.shape[:2], *correlation_shape), dtype=delta.dtype)
    rows, cols = delta.shape[2] * size, delta.shape[3] * size
    for place, goes_here in enumerate(chosen):
        p, q = divmod(place, size)
        delta_u[:, :, p:rows:size, q:cols:size] = goes_here * delta
    return delta_u


def per_example_backprop(network, params, x, y, masks):
    """BP1-BP4 for a single example: x, y and each mask are vectors, as in the book's backprop."""
    layer_inputs, zs, activations = [], [], []
    a = x
    for (w, b), layer, mask in zip(params, network.layers, masks):
        if mask is not None:
            a = a * mask
        z = w @ a + b
        layer_inputs.append(a)
        zs.append(z)
        a = ACTIVATIONS[layer.activation].fn(z)
        activations.append(a)
    delta = COSTS[network.cost].delta(zs[-1], activations[-1], y)  # BP1
    grads = [None] * len(params)
    for l in range(len(params) - 1, -1, -1):
        grads[l] = (np.outer(delta, layer_inputs[l]), delta)  # BP4, BP3
        if l > 0:
            delta = params[l][0].T @ delta  # BP2
            if masks[l] is not None:
                delta = delta * masks[l]
            delta = delta * ACTIVATIONS[network.layers[l - 1].activation].prime(zs[l - 1], activations[l - 1])
    return grads


def per_example_gradients(network, params, x, y, masks):
    """The mean over a batch of the per-example gradients: (1/m) sum_x dC_x/dW, (1/m) sum_x dC_x/db."""
    total = [(np.zeros_like(w), np.zeros_like(b)) for w, b in params]
    for i in range(len(x)):
        example_masks = [None if mask is None else mask[i] for mask in masks]
        example_grads = per_example_backprop(network, params, x[i], y[i], example_masks)
        for (sum_w, sum_b), (grad_w, grad_b) in zip(total, example_grads):
            sum_w += grad_w
            sum_b += grad_b
    return [(sum_w / len(x), sum_b / len(x)) for sum_w, sum_b in total]


def per_example_epoch(spec, params, x, y, plan, eta):
    """One epoch of the book's algorithm; params are updated in place."""
    n = len(x)  # the whole training set: the n of lambda / n
    for start, stop in batch_bounds(len(plan.order), spec.training.batch_size):
        batch = plan.order[start:stop]
        masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
        grads = per_example_gradients(spec.network, params, x[batch], y[batch], masks)
        sgd_step(spec.training, params, grads, eta, n)


def synchronize(device, results):
    """Nothing to wait for: NumPy has computed its results when it returns."""


def bench_rows(spec, training_split, device):
    """The reference, the bare NumPy loop and the book's per-example algorithm, as rows (on the CPU)."""
    training, eta = spec.training, spec.training.eta
    n_classes = spec.network.layers[-1].size
    data = prepare_data(asarray, training_split.images, training_split.labels, n_classes, training.dtype, device)

    def start_reference(params):
        model = Model(spec, params, device)
        return (lambda plan: model.train_epoch(data, plan, eta)), model.parameters

    def start_bare(params):
        own = Model(spec, params).params  # copies in the spec's dtype
        network = spec.network

        def run_epoch(plan):
            if network.has_conv:
                bare_cnn_epoch(own, data.x, data.y, plan.order, training.batch_size, eta, network, training.lmbda)
            else:
                bare_epoch(own, data.x, data.y, plan.order, training.batch_size, eta, network.cost, training.lmbda)

        return run_epoch, (lambda: own)

    def start_per_example(params):
        own = Model(spec, params).params
        return (lambda plan: per_example_epoch(spec, own, data.x, data.y, plan, eta)), (lambda: own)

    per_example = "numpy per-example (the book's algorithm)"
    against_torch = Ratio("numpy reference / torch backend", "numpy reference", "torch backend", ".2f", "at most 3x")
    return [
        BenchRow("numpy reference", start_reference, BACKEND_ROW, against_torch if spec.network.has_conv else None),
        BenchRow(
            "numpy bare loop",
            start_bare,
            BARE_LOOP,
            Ratio("reference / bare loop", "numpy reference", "numpy bare loop", ".2f", "at most 1.3x"),
        ),
        BenchRow(
            per_example,
            start_per_example,
            PER_EXAMPLE,
            Ratio("per-example / reference", per_example, "numpy reference", ".1f", "at least 10x"),
        ),
    ]
