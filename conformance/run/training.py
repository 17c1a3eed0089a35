"""The epoch loop every backend shares: the data in a backend's arrays, evaluation in chunks, the
search for the step where a run diverged, monitoring, early stopping and the eta schedule.

A backend supplies a `Model` (train one epoch from an EpochPlan, evaluate a part of a data set,
hand its parameters back as NumPy arrays and take them in) and `asarray` (a NumPy array as the
backend's own); everything else about a run lives here, once, so that the backends cannot drift
apart on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from conformance.data import streams as shared_streams
from conformance.data.streams import Parameters, batch_bounds
from conformance.spec.errors import DivergenceError
from conformance.spec.parts import ETA_FLOOR_DIVISOR, Training
from conformance.spec.spec import Spec

EVALUATION_CHUNK = 10_000  # examples per forward pass when evaluating, at most ...
EVALUATION_NUMBERS = 1 << 24  # ... and at most about this many numbers held at once (128 MB of float64)


@dataclass(frozen=True)
class Dataset:
    """A data set in one backend's arrays: inputs in the training dtype, labels, one-hot outputs y(x)."""

    x: Any
    labels: Any
    y: Any

    def __len__(self) -> int:
        return len(self.x)


def prepare_data(asarray, images, labels, n_classes: int, dtype: str, device: str = "cpu") -> Dataset:
    """A data set (NumPy images and integer labels) in a backend's arrays on `device`, made by its
    `asarray`. The desired outputs y(x) are one-hot vectors: 1 at the label, 0 elsewhere.
    """
    labels = np.asarray(labels, dtype=np.int64)
    one_hot = np.eye(n_classes, dtype=dtype)[labels]
    x = np.asarray(images, dtype=dtype)
    return Dataset(asarray(x, device), asarray(labels, device), asarray(one_hot, device))


def train_epoch(model, data: Dataset, plan, eta: float, batch_size: int, on_step=None) -> None:
    """One epoch of the model's SGD, and a DivergenceError naming the step if it left NaN or inf.

    NaN and inf are looked for once, at the end of the epoch, so that the steps pay nothing for
    it; if any turned up, the epoch is replayed from its start one step at a time to find the
    first step that produced them.
    """
    at_start = model.parameters()
    model.train_epoch(data, plan, eta, on_step)
    if not _all_finite(model.parameters()):
        raise DivergenceError(plan.epoch, _diverging_step(model, data, plan, eta, batch_size, at_start), eta)


def _diverging_step(model, data: Dataset, plan, eta: float, batch_size: int, at_start: Parameters) -> int:
    """The first step (1 for the first) of the plan after which the parameters are not all finite."""
    model.load(at_start)
    n_steps = len(batch_bounds(len(plan.order), batch_size))
    for step in range(n_steps):
        model.train_epoch(data, plan.one_step(step, batch_size), eta)
        if not _all_finite(model.parameters()):
            return step + 1
    return n_steps  # not reproduced step by step: the epoch as a whole is what diverged


def _all_finite(params: Parameters) -> bool:
    return all(np.isfinite(w).all() and np.isfinite(b).all() for w, b in params)


def evaluate(model, data: Dataset, spec) -> tuple[int, float]:
    """(correct count, total cost) on a data set, in chunks that bound the memory a forward pass takes.

    The total cost is network2's total_cost: the mean cost per example plus the regulariser's
    term with n = the size of this data set (the Model's `penalty`, or penalty_of its parameters).
    """
    chunk = evaluation_chunk(spec.network)
    correct, cost_sum = 0, 0.0
    for start in range(0, len(data), chunk):
        rows = slice(start, start + chunk)
        chunk_correct, chunk_cost = model.evaluate(data.x[rows], data.labels[rows], data.y[rows])
        correct, cost_sum = correct + chunk_correct, cost_sum + chunk_cost
    n = len(data)
    penalty = model.penalty(n) if hasattr(model, "penalty") else penalty_of(model.parameters(), spec.training, n)
    return correct, cost_sum / n + penalty


def penalty_of(params: Parameters, training, n: int) -> float:
    """The regulariser's term of the cost for n examples (ch. 3), from the weights in the canonical layout:
    (lambda / 2n) sum_w w^2 for L2 (eq. 87), (lambda / n) sum_w |w| for L1 (eq. 95), 0 without one."""
    weights = [np.asarray(w, dtype=np.float64) for w, _ in params]
    if training.regularizer == "l2":
        return training.lmbda / (2 * n) * sum(float(np.sum(w * w)) for w in weights)
    if training.regularizer == "l1":
        return training.lmbda / n * sum(float(np.sum(np.abs(w))) for w in weights)
    return 0.0


def evaluation_chunk(network) -> int:
    """Examples per forward pass when evaluating: 10,000 for the MLPs, fewer for a conv net's larger layers."""
    return max(1, min(EVALUATION_CHUNK, EVALUATION_NUMBERS // network.workspace))


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    eta: float
    seconds: float  # training only; evaluation is timed apart
    evaluation_seconds: float
    training_cost: float | None  # None where the spec does not evaluate the training set
    training_accuracy: float | None
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
    best_epoch_ties: str = "first"  # which of two epochs tied on validation accuracy is the best: first | last

    @property
    def best_validation(self) -> EpochRecord:
        """The epoch with the highest validation accuracy (on a tie, the first one, or with network3's
        rule the last one)."""
        later_wins = 1 if self.best_epoch_ties == "last" else -1
        return max(self.records, key=lambda record: (record.validation_correct, later_wins * record.epoch))

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
    (conformance.data.streams), or a backend's native ones (`--rng native`).
    `on_epoch(history, model)` follows every complete epoch (to save the run, say).
    Returns (History, model).
    """
    reporter = reporter or _Silent()
    training = spec.training
    if initial is None:
        initial = streams.initial_parameters(spec.network, seed)
    model = backend.Model(spec, initial, device)
    sets = _prepare_splits(backend, spec, data, device)
    n = len(data["training"])
    n_steps = len(batch_bounds(training.examples_per_epoch(n), training.batch_size))
    history = History(list(done), best_epoch_ties=training.best_epoch_ties)
    schedule = _Schedule.replay(training, history.records)
    last_epoch = first_epoch + training.epochs - 1
    for epoch in range(first_epoch + len(history.records), last_epoch + 1):
        if schedule.stop_reason:
            break
        plan = streams.epoch_plan(spec, n, epoch, seed)
        reporter.epoch_started(epoch, n_steps)
        started = time.perf_counter()
        train_epoch(model, sets["training"], plan, schedule.eta, training.batch_size, on_step=reporter.step)
        trained = time.perf_counter()
        record = _record(model, spec, sets, data, epoch, schedule.eta, trained - started, n_steps)
        history.records.append(record)
        reporter.epoch_finished(record, last_epoch)
        note = schedule.after_epoch(record)
        if note:
            reporter.note(note)
        if on_epoch is not None:
            on_epoch(history, model)
    history.stop_reason = schedule.stop_reason or history.stop_reason
    return history, model


def train_together(
    backend,
    spec: Spec,
    data,
    seeds: Sequence[int],
    reporters: Sequence[Reporter],
    device: str = "cpu",
    on_epoch: Callable[[int, History, Any], None] | None = None,
    done: Sequence[tuple[Parameters, Sequence[EpochRecord]]] | None = None,
):
    """Train one member per seed as one computation, with the backend's `Ensemble` (conformance.backend.contract).

    Member i is the run `train(backend, spec, data, seeds[i])` would make on the shared streams: its
    own initial parameters, epoch plans and eta schedule. A member that stops early (early stopping,
    or eta at its floor) trains on with eta 0, which leaves its parameters as they are. Each
    member's records time the epoch of all of them together. `on_epoch(i, history, model)` follows
    every complete epoch of member i, `model` holding its parameters (to save its run, say). Returns
    [(History, parameters)], a member's parameters those after its last epoch.
    Members that go on after an interruption pass `done`: each member's parameters after its
    epochs so far and their records, every member at the same epoch. They go on together from
    there, each ending bitwise as its run left alone would (the eta schedules are replayed).
    """
    training = spec.training
    if done is None:
        members, done_records = [shared_streams.initial_parameters(spec.network, seed) for seed in seeds], []
    else:
        members, done_records = [params for params, _ in done], [list(records) for _, records in done]
    ensemble = backend.Ensemble(spec, members, device)
    model = backend.Model(spec, members[0], device)  # evaluates each member in turn
    sets = _prepare_splits(backend, spec, data, device)
    n = len(data["training"])
    n_steps = len(batch_bounds(training.examples_per_epoch(n), training.batch_size))
    histories = [History(list(records), best_epoch_ties=training.best_epoch_ties) for records in done_records]
    histories = histories or [History(best_epoch_ties=training.best_epoch_ties) for _ in seeds]
    schedules = [_Schedule.replay(training, history.records) for history in histories]
    for epoch in range(1 + len(histories[0].records), training.epochs + 1):
        running = [i for i, schedule in enumerate(schedules) if not schedule.stop_reason]
        if not running:
            break
        plans = [shared_streams.epoch_plan(spec, n, epoch, seed) for seed in seeds]
        etas = [0.0 if schedule.stop_reason else schedule.eta for schedule in schedules]
        at_start = ensemble.parameters()
        for i in running:
            reporters[i].epoch_started(epoch, n_steps)
        started = time.perf_counter()
        ensemble.train_epoch(sets["training"], plans, etas)
        trained = ensemble.parameters()  # waits for the epoch: a backend may return before it is done
        seconds = time.perf_counter() - started
        for i, params in enumerate(trained):
            if i not in running:
                continue
            try:
                if not _all_finite(params):
                    step = _diverging_step(model, sets["training"], plans[i], etas[i], training.batch_size, at_start[i])
                    raise DivergenceError(epoch, step, etas[i])
                model.load(params)
                record = _record(model, spec, sets, data, epoch, etas[i], seconds, n_steps)
            except DivergenceError as error:
                raise member_diverged(error, i, seeds[i]) from None
            histories[i].records.append(record)
            if on_epoch is not None:
                on_epoch(i, histories[i], model)
            reporters[i].epoch_finished(record, training.epochs)
            note = schedules[i].after_epoch(record)
            if note:
                reporters[i].note(note)
    final = ensemble.parameters()
    for history, schedule in zip(histories, schedules):
        history.stop_reason = schedule.stop_reason or history.stop_reason
    return list(zip(histories, final))


def member_diverged(error: DivergenceError, member: int, seed: int) -> DivergenceError:
    """The error of an ensemble's member `member` (0 for the first) that diverged, naming it."""
    return DivergenceError(error.epoch, error.step, error.eta, f"{error.what} of member {member + 1} (seed {seed})")


def _prepare_splits(backend, spec: Spec, data, device: str) -> dict[str, Dataset]:
    """Each split (training, validation, test) in the backend's arrays on `device`."""
    n_classes = spec.network.layers[-1].size
    return {
        name: prepare_data(backend.asarray, split.images, split.labels, n_classes, spec.training.dtype, device)
        for name, split in data.items()
    }


def stop_reason(training: Training, records: Sequence[EpochRecord]) -> str | None:
    """Why a run whose epochs so far are `records` stopped before its last epoch (early stopping,
    or eta at its floor), as the schedule replayed over them says; None if it goes on."""
    return _Schedule.replay(training, records).stop_reason


def _record(model, spec, sets, data, epoch, eta, seconds, n_steps) -> EpochRecord:
    started = time.perf_counter()
    evaluated = {
        name: dataset for name, dataset in sets.items() if name != "training" or spec.training.evaluate_training_set
    }
    results = {name: evaluate(model, dataset, spec) for name, dataset in evaluated.items()}
    training_cost = results["training"][1] if "training" in results else None
    if training_cost is not None and not np.isfinite(training_cost):
        raise DivergenceError(epoch, n_steps, eta, what="training cost")

    def accuracy(name):
        return results[name][0] / len(data[name]) if name in results else None

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
