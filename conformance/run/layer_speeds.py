"""Chapter 5's speed of learning: ||dC/db^l|| for each hidden layer l, over training.

The book measures it (generate_gradient.py) as the norm of the bias gradient of each hidden
layer, averaged over the first 1,000 training images, before every epoch; its figures plot one
line per hidden layer on a log scale, and show the layers nearer the input learning more slowly.
BP3 makes dC/db^l = delta^l, so this is the size of each layer's error.

Here it is measured through the backend's Model.gradients (canonical NumPy arrays, so every
backend is measured the same way), without dropout masks, at the start of a run and after every
epoch. The book's own figure trained with batch gradient descent on those 1,000 images for 500
epochs: `nndl train --preset ch5-depth-4 --train-size 1000 --batch-size 1000 --epochs 500
--layer-speeds --plot speeds.png`.
"""

from __future__ import annotations

import numpy as np

LAYER_SPEED_IMAGES = 1000  # the first training images, as the book's generate_gradient.py


def measure(model, spec, training_split, n: int) -> list[float]:
    """||dC/db^l|| of each hidden layer l (the mean gradient over the first LAYER_SPEED_IMAGES
    training images), for a model at its present parameters; n is the training set's size."""
    part = training_split.first(min(LAYER_SPEED_IMAGES, len(training_split)))
    x = np.asarray(part.images, dtype=np.float64)
    y = np.eye(spec.network.layers[-1].size)[part.labels]
    grads = model.gradients(x, y, [None] * len(spec.network.layers), n)
    return [float(np.linalg.norm(grad_b)) for _, grad_b in grads[:-1]]


class LayerSpeeds:
    """The speeds of one run: measured at its start (`at_start`), then after every epoch (`on_epoch`,
    train's callback)."""

    def __init__(self, spec, training_split):
        self.spec, self.training_split = spec, training_split
        self.epochs: list[int] = []
        self.speeds: list[list[float]] = []  # per measurement, one norm per hidden layer

    def at_start(self, backend, params, epochs_done: int, device: str) -> None:
        """Measure the parameters the run starts from (after `epochs_done` epochs: 0 for a new run)."""
        self._record(epochs_done, backend.Model(self.spec, params, device))

    def on_epoch(self, history, model) -> None:
        self._record(history.records[-1].epoch, model)

    def _record(self, epoch: int, model) -> None:
        self.epochs.append(epoch)
        self.speeds.append(measure(model, self.spec, self.training_split, len(self.training_split)))

    def to_dict(self) -> dict:
        return {
            "measure": f"||dC/db^l|| over the first {LAYER_SPEED_IMAGES:,} training images, per hidden layer",
            "epochs": self.epochs,
            "hidden_layers": [list(layer) for layer in zip(*self.speeds)],
        }


def plot(axes, layer_speeds: dict) -> None:
    """The book's figure on `axes`: one line per hidden layer, log scale, against the epoch."""
    for number, speeds in enumerate(layer_speeds["hidden_layers"], start=1):
        axes.plot(layer_speeds["epochs"], speeds, label=f"hidden layer {number}")
    axes.set_yscale("log")
    hidden = len(layer_speeds["hidden_layers"])
    axes.set(xlabel="epoch", ylabel="||dC/db||", title=f"speed of learning: {hidden} hidden layers")
