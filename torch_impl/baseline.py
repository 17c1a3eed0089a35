"""The baseline for `nndl bench`: the same math as this backend, written with nothing around it.

- `bare_epoch`: one epoch for sigmoid networks with the quadratic or cross-entropy cost and no
  dropout, as a flat loop of torch operations: the forward pass, autograd for the gradient, and
  an in-place update. It is what the torch backend costs when nothing is paid for readability
  (no nn.Module, no cost or regulariser tables, no divergence check); the bench holds the backend
  to within 1.3x of it.
- `bare_cnn_epoch`: the same for chapter 6's networks: max-pooling conv layers, then dense layers,
  a softmax output and the log-likelihood cost, with L2 decay or none and no dropout, written
  with F.conv2d and F.max_pool2d.
- `bench_rows`: the backend and the bare loop that fits the spec as rows of the bench, on a device,
  with the ratios held to.

The book's per-example algorithm (`per_example_backprop`, `per_example_gradients`, `per_example_epoch`)
is a baseline for the reference only (reference/baseline.py): it measures how much vectorising a
mini-batch gains, which does not depend on the framework.
"""

import torch
from torch.nn import functional as F

from conformance.backend.contract import BACKEND_ROW, BARE_LOOP, BenchRow, Ratio
from conformance.run.training import prepare_data

from .device import asarray, resolve_device, torch_dtype
from .train import Model


def bare_epoch(params, x, y, order, batch_size, eta, cost, lmbda=0.0):
    """One epoch of SGD on a sigmoid network (ch. 1; ch. 3's cross-entropy cost and L2 decay), written out flat.

    params are [(W, b), ...] tensors that require grad, updated in place; x, y and order are tensors
    on the same device. The gradient is autograd's (BP1-BP4); the update is w <- (1 - eta lambda / n) w
    - eta dC/dw and b <- b - eta dC/db, with n = len(x).
    """
    decay = 1.0 - eta * lmbda / len(x)
    leaves = [t for pair in params for t in pair]
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        a, targets = torch.index_select(x, 0, batch), torch.index_select(y, 0, batch)
        for w, b in params:
            z = F.linear(a, w, b)
            a = torch.sigmoid(z)
        if cost == "quadratic":
            per_example = 0.5 * torch.sum((a - targets) ** 2, dim=1)  # eq. 6
        else:  # the cross-entropy from z, as torch_impl.costs computes it: softplus(z) - y z
            per_example = torch.sum(torch.logaddexp(torch.zeros_like(z), z) - targets * z, dim=1)
        grads = torch.autograd.grad(torch.mean(per_example), leaves)
        _update(params, grads, eta, decay)


def bare_cnn_epoch(params, x, y, order, batch_size, eta, network, lmbda=0.0):
    """One epoch of SGD on a chapter 6 net (conv-pool layers, dense layers, softmax and log-likelihood), flat.

    `network` is the spec's: it gives the input's shape and each layer's type, pooling, tie rule and
    activation. The gradient is autograd's; the update is that of bare_epoch.
    """
    decay = 1.0 - eta * lmbda / len(x)
    leaves = [t for pair in params for t in pair]
    activations = {"sigmoid": torch.sigmoid, "relu": F.relu}
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        a, targets = torch.index_select(x, 0, batch), torch.index_select(y, 0, batch)
        a = a.reshape(len(batch), *network.input_shape)
        for layer, (w, b) in zip(network.layers, params):
            if layer.type == "conv":
                u = F.conv2d(a, w)
                pooled = _max_pool_to_all_ties(u, layer.pool) if layer.ties == "all" else F.max_pool2d(u, layer.pool)
                z = pooled + b[:, None, None]
            else:
                z = F.linear(a.flatten(1), w, b)
            if layer.activation != "softmax":
                a = activations[layer.activation](z)
        log_likelihood = -torch.sum(targets * F.log_softmax(z, dim=1), dim=1)  # eq. 80, from z
        grads = torch.autograd.grad(torch.mean(log_likelihood), leaves)
        _update(params, grads, eta, decay)


def _max_pool_to_all_ties(u, size):
    """max_pool2d's value, with the gradient going in full to every tied maximum (network3's rule).

    The maxima are found without the graph; adding the window sums of (u - u), kept at the maxima
    only, changes no value but routes each window's gradient to all of them.
    """
    pooled = F.max_pool2d(u.detach(), size)
    spread = pooled.repeat_interleave(size, dim=2).repeat_interleave(size, dim=3)
    rows, cols = spread.shape[2], spread.shape[3]
    kept = u[:, :, :rows, :cols]
    chosen = kept.detach() == spread
    return pooled + F.avg_pool2d(chosen * (kept - kept.detach()), size, divisor_override=1)


def _update(params, grads, eta, decay):
    """w <- decay w - eta dC/dw and b <- b - eta dC/db in place, grads being autograd's (W, b, W, b, ...)."""
    with torch.no_grad():
        for (w, b), grad_w, grad_b in zip(params, grads[0::2], grads[1::2]):
            if decay != 1.0:
                w.mul_(decay)
            w.sub_(grad_w, alpha=eta)
            b.sub_(grad_b, alpha=eta)


def synchronize(device, results):
    """Wait for the device, so that an asynchronous one (CUDA, MPS) is timed for its work, not for
    queueing it. Torch waits for everything queued on the device, so `results` need not be named."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def bench_rows(spec, training_split, device):
    """The torch backend and the bare torch loop, as rows on `device`, with their own copy of the data there."""
    training, eta = spec.training, spec.training.eta
    where = resolve_device(device)
    dtype = torch_dtype(training.dtype, where)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(asarray, training_split.images, training_split.labels, n_classes, training.dtype, device)

    def start_backend(params):
        model = Model(spec, params, device)

        def run_epoch(plan):
            model.train_epoch(data, plan, eta)
            synchronize(where, model.network)

        return run_epoch, model.parameters

    def start_bare(params):
        own = [
            tuple(torch.tensor(array, dtype=dtype, device=where, requires_grad=True) for array in pair)
            for pair in params
        ]
        network = spec.network

        def run_epoch(plan):
            order = torch.as_tensor(plan.order, device=where)
            if network.has_conv:
                bare_cnn_epoch(own, data.x, data.y, order, training.batch_size, eta, network, training.lmbda)
            else:
                bare_epoch(own, data.x, data.y, order, training.batch_size, eta, network.cost, training.lmbda)
            synchronize(where, own)

        def parameters():
            return [tuple(t.detach().cpu().numpy().copy() for t in pair) for pair in own]

        return run_epoch, parameters

    return [
        BenchRow("torch backend", start_backend, BACKEND_ROW),
        BenchRow(
            "torch bare loop",
            start_bare,
            BARE_LOOP,
            Ratio("torch backend / torch bare loop", "torch backend", "torch bare loop", ".2f", "at most 1.3x"),
        ),
    ]
