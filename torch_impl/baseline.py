"""The baseline for `nndl bench`: the same math as this backend, written with nothing around it.

- `bare_epoch`: one epoch for sigmoid networks with the quadratic or cross-entropy cost and no
  dropout, as a flat loop of torch operations: the forward pass, autograd for the gradient, and
  an in-place update. It is what the torch backend costs when nothing is paid for readability
  (no nn.Module, no cost or regulariser tables, no divergence check); the bench holds the backend
  to within 1.3x of it.
- `bench_rows`: the backend and this loop as rows of the bench, on a device, with the ratio held to.

The book's per-example algorithm (`per_example_backprop`, `per_example_gradients`, `per_example_epoch`)
is a baseline for the reference only (reference/baseline.py): it measures how much vectorising a
mini-batch gains, which does not depend on the framework.
"""

import torch
from torch.nn import functional as F

from conformance.contract import BACKEND_ROW, BARE_LOOP, BenchRow, Ratio
from conformance.training import prepare_data

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
        cost = spec.network.cost

        def run_epoch(plan):
            order = torch.as_tensor(plan.order, device=where)
            bare_epoch(own, data.x, data.y, order, training.batch_size, eta, cost, training.lmbda)
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
