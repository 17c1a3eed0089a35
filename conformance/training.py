"""The epoch loop every backend shares: monitoring, early stopping and the eta schedule.

A backend supplies a `Model` (train one epoch from an EpochPlan, evaluate a data set, hand its
parameters back as NumPy arrays) and `prepare_data`; everything else about a run lives here,
once, so that the backends cannot drift apart on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from . import streams as shared_streams
from .errors import DivergenceError
from .spec import ETA_FLOOR_DIVISOR, Spec, Training
from .streams import Parameters, batch_bounds


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    eta: float
    seconds: float  # training only; evaluation is timed apart
    evaluation_seconds: float
    training_cost: float
    training_accuracy: float
    validation_cost: float
    validation_accuracy: float
    validation_correct: int
    test_cost: float
    test_accuracy: float
    test_correct: int


RAN_EVERY_EPOCH = "ran every epoch"


@dataclass
class History:
    records: list[EpochRecord] = field(default_factory=list)
    stop_reason: str = RAN_EVERY_EPOCH

    @property
    def best_validation(self) -> EpochRecord:
        """The epoch with the highest validation accuracy (the first one, on a tie)."""
        return max(self.records, key=lambda record: (record.validation_correct, -record.epoch))

    def to_dict(self) -> dict[str, Any]:
        best = self.best_validation
        return {
            "epochs": [asdict(record) for record in self.records],
            "stop_reason": self.stop_reason,
            "best_validation_epoch": best.epoch,
            "best_validation_accuracy": best.validation_accuracy,
            "test_accuracy_at_best_validation": best.test_accuracy,
        }


class Reporter(Protocol):
    def epoch_started(self, epoch: int, n_steps: int) -> None: ...
    def step(self) -> None: ...
    def epoch_finished(self, record: EpochRecord, last_epoch: int) -> None: ...
    def note(self, message: str) -> None: ...


class _Silent:
    def epoch_started(self, epoch, n_steps): ...
    def step(self): ...
    def epoch_finished(self, record, last_epoch): ...
    def note(self, message): ...


def train(
    backend,
    spec: Spec,
    data,
    seed: int,
    initial: Parameters | None = None,
    reporter: Reporter | None = None,
    first_epoch: int = 1,
    device: str = "cpu",
    streams=shared_streams,
    done: Sequence[EpochRecord] = (),
    on_epoch: Callable[[History, Any], None] | None = None,
):
    """Train `spec` on `data` (a dict of training/validation/test splits) with one backend.

    Starts from `initial` parameters (canonical NumPy layout) or from the streams' draw for
    `seed`, and runs spec.training.epochs epochs numbered from `first_epoch`. A run that
    goes on from a checkpoint of epoch k passes first_epoch = k + 1, so that it draws the epoch
    orders and masks that epochs k + 1, k + 2, ... of one unbroken run would have drawn; with a
    constant eta the two runs end bitwise equal. (The eta schedule starts afresh.)
    A run that goes on after an interruption passes the records of the epochs it `done` and
    the parameters after them as `initial`: it takes up the eta schedule where it was (replayed
    from the records) and trains the epochs after them, so that it ends bitwise equal to the
    run left alone.
    `streams` draws the initial parameters and each epoch's plan: the shared NumPy streams
    (conformance.streams), or a backend's native ones (`--rng native`).
    `on_epoch(history, model)` follows every complete epoch (to save the run, say).
    Returns (History, model).
    """
    reporter = reporter or _Silent()
    training = spec.training
    if initial is None:
        initial = streams.initial_parameters(spec.network, seed)
    model = backend.Model(spec, initial, device)
    n_classes = spec.network.layers[-1].size
    sets = {
        name: backend.prepare_data(split.images, split.labels, n_classes, training.dtype, device)
        for name, split in data.items()
    }
    n = len(data["training"])
    n_steps = len(batch_bounds(n, training.batch_size))
    history = History(list(done))
    schedule = _Schedule.replay(training, history.records)
    last_epoch = first_epoch + training.epochs - 1
    for epoch in range(first_epoch + len(history.records), last_epoch + 1):
        if schedule.stop_reason:
            break
        plan = streams.epoch_plan(spec, n, epoch, seed)
        reporter.epoch_started(epoch, n_steps)
        started = time.perf_counter()
        model.train_epoch(sets["training"], plan, schedule.eta, on_step=reporter.step)
        trained = time.perf_counter()
        record = _record(model, sets, data, epoch, schedule.eta, trained - started, n_steps)
        history.records.append(record)
        reporter.epoch_finished(record, last_epoch)
        note = schedule.after_epoch(record)
        if note:
            reporter.note(note)
        if on_epoch is not None:
            on_epoch(history, model)
    history.stop_reason = schedule.stop_reason or history.stop_reason
    return history, model


def stop_reason(training: Training, records: Sequence[EpochRecord]) -> str | None:
    """Why a run whose epochs so far are `records` stopped before its last epoch (early stopping,
    or eta at its floor), as the schedule replayed over them says; None if it goes on."""
    return _Schedule.replay(training, records).stop_reason


def _record(model, sets, data, epoch, eta, seconds, n_steps) -> EpochRecord:
    started = time.perf_counter()
    results = {name: model.evaluate(dataset) for name, dataset in sets.items()}
    training_cost = results["training"][1]
    if not np.isfinite(training_cost):
        raise DivergenceError(epoch, n_steps, eta, what="training cost")

    def accuracy(name):
        return results[name][0] / len(data[name])

    return EpochRecord(
        epoch=epoch,
        eta=eta,
        seconds=seconds,
        evaluation_seconds=time.perf_counter() - started,
        training_cost=training_cost,
        training_accuracy=accuracy("training"),
        validation_cost=results["validation"][1],
        validation_accuracy=accuracy("validation"),
        validation_correct=results["validation"][0],
        test_cost=results["test"][1],
        test_accuracy=accuracy("test"),
        test_correct=results["test"][0],
    )


class _Schedule:
    """Early stopping and the halving of eta, both driven by the best validation accuracy so far.

    Early stopping counts epochs since the last new best. The eta schedule counts epochs since
    the last new best or the last halving, whichever came later, so it halves again only after
    another `halve_eta_patience` epochs without improvement, and stops the run once eta has
    fallen to eta_0 / ETA_FLOOR_DIVISOR. Its state follows from the epochs' records alone, so a
    run that goes on after an interruption replays them rather than saving it.
    """

    def __init__(self, training: Training):
        self.training = training
        self.eta = training.eta
        self.stop_reason: str | None = None
        self.best_correct = -1
        self.last_best = self.last_halving = 0

    @classmethod
    def replay(cls, training: Training, records: Sequence[EpochRecord]) -> _Schedule:
        schedule = cls(training)
        for record in records:
            schedule.after_epoch(record)
        return schedule

    def after_epoch(self, record: EpochRecord) -> str | None:
        """Take in an epoch's record; return a note for the user when eta was halved."""
        training = self.training
        if record.validation_correct > self.best_correct:
            self.best_correct, self.last_best = record.validation_correct, record.epoch
        if training.early_stopping_patience and record.epoch - self.last_best >= training.early_stopping_patience:
            self.stop_reason = f"early stopping: no improvement in {training.early_stopping_patience} epochs"
            return None
        patience = training.halve_eta_patience
        if patience and record.epoch - max(self.last_best, self.last_halving) >= patience:
            self.last_halving, self.eta = record.epoch, self.eta / 2
            if self.eta <= training.eta / ETA_FLOOR_DIVISOR:
                self.stop_reason = f"eta fell to eta_0 / {ETA_FLOOR_DIVISOR} after epoch {record.epoch}"
            return f"no improvement in {patience} epochs: eta halved to {self.eta:g}"
        return None
