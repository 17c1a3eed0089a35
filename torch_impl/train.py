"""Stochastic gradient descent: the update rule, and one epoch of mini-batches.

The epoch loop around this (monitoring, early stopping, the eta schedule) is shared by every
backend and lives in conformance.training; this file holds only what PyTorch does itself.
"""

from dataclasses import dataclass

import numpy as np
import torch

from conformance.errors import DivergenceError, NndlError
from conformance.streams import batch_bounds

from .network import Network, backprop, evaluate, gradients, one_hot
from .regularizers import REGULARIZERS

DTYPES = {"float64": torch.float64, "float32": torch.float32}


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


@dataclass(frozen=True)
class Dataset:
    """A data set in this backend's tensors: inputs in the training dtype, labels, one-hot outputs."""

    x: torch.Tensor
    labels: torch.Tensor
    y: torch.Tensor


def prepare_data(images, labels, n_classes, dtype, device="cpu"):
    device = resolve_device(device)
    dtype = torch_dtype(dtype, device)
    x = torch.as_tensor(np.ascontiguousarray(images), device=device).to(dtype)
    labels = torch.as_tensor(np.asarray(labels), device=device).long()
    return Dataset(x=x, labels=labels, y=one_hot(labels, n_classes, dtype))


def torch_dtype(name, device):
    """The torch dtype of a spec's dtype on a device, or a one-line error where the device has none."""
    if device.type == "mps" and name == "float64":
        raise NndlError("--device mps has no float64; use --dtype float32 there, or --device cpu")
    return DTYPES[name]


def resolve_device(name):
    """The torch.device for --device cpu, cuda or mps, or a one-line error saying what to do.

    On CUDA, TF32 is turned off for matrix products and convolutions: a float32 spec means IEEE
    float32 arithmetic, on every device, so that conformance compares like with like.
    """
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise NndlError(
                f"--device cuda: this torch ({torch.__version__}) sees no CUDA device; "
                "use --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU"
            )
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch.device("cuda")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise NndlError("--device mps: this machine has no Apple MPS device; use --device cpu")
        return torch.device("mps")
    raise NndlError(f"unknown device {name!r}; choose one of: cpu, cuda, mps")


class Model:
    """A spec's network as a torch.nn.Module, its parameters in the spec's dtype on one device."""

    def __init__(self, spec, params, device="cpu"):
        self.spec = spec
        self.device = resolve_device(device)
        self.network = Network(spec.network, params, torch_dtype(spec.training.dtype, self.device), self.device)

    def train_epoch(self, data, plan, eta, on_step=None):
        """One pass over the training data in the plan's order, one SGD step per mini-batch.

        NaN and inf are looked for once, at the end of the epoch, so that the steps pay nothing
        for it; if any turned up, the epoch is replayed from a copy, checking every step, to
        name the step where training diverged.
        """
        at_start = self.parameters()
        self._sgd_steps(data, plan, eta, on_step, check_each_step=False)
        if not _all_finite(self.network.parameters()):
            self._load(at_start)
            self._sgd_steps(data, plan, eta, None, check_each_step=True)
            raise DivergenceError(plan.epoch, len(batch_bounds(len(plan.order), self.spec.training.batch_size)), eta)

    def _sgd_steps(self, data, plan, eta, on_step, check_each_step):
        training, network, params = self.spec.training, self.network, self.network.parameter_pairs()
        n = len(data.x)  # the whole training set: the n of lambda / n
        order = torch.as_tensor(plan.order, device=self.device)
        all_masks = [None if mask is None else torch.as_tensor(mask, device=self.device) for mask in plan.masks]
        masks, has_dropout = [None] * len(params), self.spec.network.has_dropout
        for step, (start, stop) in enumerate(batch_bounds(len(order), training.batch_size), start=1):
            batch = order[start:stop]
            if has_dropout:
                masks = [None if mask is None else mask[start:stop] for mask in all_masks]
            # index_select gathers the rows as x[batch] does, in half the time (no indexing machinery)
            grads = backprop(network, torch.index_select(data.x, 0, batch), torch.index_select(data.y, 0, batch), masks)
            sgd_step(training, params, grads, eta, n)
            if check_each_step and not _all_finite(network.parameters()):
                raise DivergenceError(plan.epoch, step, eta)
            if on_step is not None:
                on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of a batch's regularised mean cost, for NumPy x, y and masks, as NumPy pairs."""
        dtype = torch_dtype(self.spec.training.dtype, self.device)

        def tensor(array):
            return None if array is None else torch.as_tensor(array, device=self.device)

        grads = gradients(
            self.network,
            self.spec.training,
            tensor(x).to(dtype),
            tensor(y).to(dtype),
            [tensor(mask) for mask in masks],
            n,
        )
        return [(_numpy(grad_w), _numpy(grad_b)) for grad_w, grad_b in grads]

    def evaluate(self, data):
        """(correct count, total cost) on a data set."""
        return evaluate(self.network, self.spec.training, data.x, data.labels)

    def parameters(self):
        """The parameters in the canonical layout, as NumPy arrays (copies)."""
        return [(_numpy(w), _numpy(b)) for w, b in self.network.parameter_pairs()]

    def _load(self, params):
        with torch.no_grad():
            for (w, b), (new_w, new_b) in zip(self.network.parameter_pairs(), params):
                w.copy_(torch.as_tensor(new_w))
                b.copy_(torch.as_tensor(new_b))


def _all_finite(tensors):
    return all(bool(torch.isfinite(t).all()) for t in tensors)


def _numpy(tensor):
    return tensor.detach().cpu().numpy().copy()
