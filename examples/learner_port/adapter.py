"""The learner's port (network.py) as an nndl backend, in the contract's minimal form:
`NAME`, `Model`, and `supports` to decline what the port cannot run.

    PYTHONPATH=. nndl conform --backends numpy,examples.learner_port.adapter

nndl hands the port its parameters as (W, b) pairs, W (n_out, n_in) and b (n_out,), and its data
as rows; the port keeps columns. The adapter turns one into the other and does nothing else.
"""

import numpy as np

from examples.learner_port.network import CrossEntropyCost, Network, QuadraticCost

NAME = "learner"
CONTRACT_VERSION = 1
COSTS = {"quadratic": QuadraticCost, "cross_entropy": CrossEntropyCost}


def supports(spec):
    """None if the port can run `spec`, else why not: it has what chapters 1-3 build, and no more."""
    layers, training = spec.network.layers, spec.training
    if any(layer.type != "dense" for layer in layers):
        return "dense layers only"
    if any(layer.activation != "sigmoid" for layer in layers):
        return "sigmoid neurons only"
    if any(layer.dropout for layer in layers):
        return "no dropout"
    if spec.network.cost not in COSTS:
        return "quadratic and cross-entropy costs only"
    if training.regularizer == "l1":
        return "no L1"
    if training.dtype != "float64":
        return "float64 only"
    return None


class Model:
    """The learner's Network behind the contract's five methods (and the optional `evaluate`)."""

    network_class = Network  # broken_bp2.py puts its own here

    def __init__(self, spec, params, device="cpu"):
        self.batch_size = spec.training.batch_size
        self.lmbda = spec.training.lmbda if spec.training.regularizer == "l2" else 0.0
        self.network = self.network_class([], [], COSTS[spec.network.cost])
        self.load(params)

    def train_epoch(self, data, plan, eta, on_step=None):
        """One SGD step per mini-batch: consecutive slices of the plan's order, n the training set's size."""
        for start in range(0, len(plan.order), self.batch_size):
            rows = plan.order[start : start + self.batch_size]
            self.network.update_mini_batch(columns(data.x[rows], data.y[rows]), eta, self.lmbda, len(data.x))
            if on_step is not None:
                on_step()

    def gradients(self, x, y, masks, n):
        """The gradient of the batch's mean cost, plus L2's (lambda / n) W, as (dC/dW, dC/db) pairs."""
        nabla_b, nabla_w = self.network.summed_gradient(columns(x, y))
        m = len(x)
        return [
            (nw / m + (self.lmbda / n) * w, nb[:, 0] / m) for w, nw, nb in zip(self.network.weights, nabla_w, nabla_b)
        ]

    def evaluate(self, x, labels, y):
        """(correct count, summed cost): feedforward takes the examples as columns side by side."""
        a = self.network.feedforward(x.T)
        return int(np.sum(np.argmax(a, axis=0) == labels)), float(self.network.cost.fn(a, y.T))

    def parameters(self):
        """Copies, in nndl's layout: b as (n_out,), not the port's (n_out, 1) column."""
        return [(w.copy(), b[:, 0].copy()) for w, b in zip(self.network.weights, self.network.biases)]

    def load(self, params):
        self.network.weights = [np.array(w, dtype=np.float64) for w, _ in params]
        self.network.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for _, b in params]


def columns(x, y):
    """Rows of inputs and one-hot outputs as the port's (x, y) pairs of columns."""
    return list(zip(x[:, :, None], y[:, :, None]))
