"""A checkpoint put to MNIST's validation and test sets: its correct count and cost on each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conformance.backend.contract import require_model_method
from conformance.backend.registry import REFERENCE, load_backend
from conformance.data import mnist
from conformance.data.mnist import Log
from conformance.data.splits import fitting_mnist
from conformance.run.checkpoint import check_parameters, load_checkpoint
from conformance.run.training import evaluate, prepare_data
from conformance.spec.errors import NndlError
from conformance.spec.spec import Spec

EVALUATED_SPLITS = ("validation", "test")


@dataclass(frozen=True)
class Score:
    """How a network does on one split: examples right out of `size`, and the mean cost."""

    split: str
    correct: int
    size: int
    cost: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.size


def evaluate_checkpoint(
    checkpoint: str | Path,
    spec: Spec | None = None,
    backend: str = REFERENCE,
    device: str = "cpu",
    data=None,
    log: Log | None = None,
) -> list[Score]:
    """The checkpoint's score on the validation and test sets, computed by `backend` on `device`.

    `spec` is the checkpoint's network where the file does not carry one (the book's .json format);
    `data` is the MNIST file (None: $NNDL_DATA, the cache or a download).
    """
    saved = load_checkpoint(checkpoint)
    if spec is None and saved.spec is None:
        raise NndlError(
            f"{checkpoint} does not carry a spec (the book's format): name its network with --preset or --spec"
        )
    spec = spec if spec is not None else fitting_mnist(saved.spec, str(checkpoint))
    check_parameters(spec.network, saved.params, str(checkpoint))
    model_backend = load_backend(backend)
    require_model_method(model_backend, "evaluate", "nndl evaluate scores a checkpoint with it")
    model = model_backend.Model(spec, saved.params, device)
    splits = mnist.load_mnist(data, log=log)
    n_classes, dtype = spec.network.layers[-1].size, spec.training.dtype
    scores = []
    for name in EVALUATED_SPLITS:
        split = getattr(splits, name)
        dataset = prepare_data(model_backend.asarray, split.images, split.labels, n_classes, dtype, device)
        correct, cost = evaluate(model, dataset, spec)
        scores.append(Score(name, correct, len(split), cost))
    return scores
