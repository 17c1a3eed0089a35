"""Baselines for `nndl bench`: the same math as the reference, written two other ways, and the rows.

- `bare_epoch`: one vectorised epoch with no abstraction at all, for sigmoid networks with the
  quadratic or cross-entropy cost and no dropout. It is what the reference costs when nothing
  is paid for readability; the bench holds the reference to within 1.3x of it.
- `per_example_epoch`: the book's own algorithm, the slow way. Backprop runs once per training
  example on vectors, and a mini-batch's gradient is the mean of its examples' gradients.
- `bench_rows`: the reference and these two as rows of the bench, each with the ratio it is held to.
"""

import numpy as np

from conformance.contract import BACKEND_ROW, BARE_LOOP, PER_EXAMPLE, BenchRow, Ratio
from conformance.streams import batch_bounds
from conformance.training import prepare_data

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
        cost = spec.network.cost
        return (
            lambda plan: bare_epoch(own, data.x, data.y, plan.order, training.batch_size, eta, cost, training.lmbda)
        ), (lambda: own)

    def start_per_example(params):
        own = Model(spec, params).params
        return (lambda plan: per_example_epoch(spec, own, data.x, data.y, plan, eta)), (lambda: own)

    per_example = "numpy per-example (the book's algorithm)"
    return [
        BenchRow("numpy reference", start_reference, BACKEND_ROW),
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
