"""What a training command prints: the run's header, a progress bar over mini-batches on stderr,
one line per epoch on stdout, and the summary beside the book's figure."""

from __future__ import annotations

from conformance.run.training import EpochRecord, History
from conformance.spec.spec import Spec


def run_header(spec: Spec, settings: dict, n_training: int, start_note: str, saving_in: str | None = None) -> str:
    """Two lines: the network and its training, then the backend, the streams and the data."""
    network, training = spec.network, spec.training
    regularizer = (
        "no regularisation"
        if training.regularizer == "none"
        else f"{training.regularizer.upper()} lambda {training.lmbda:g}"
    )
    return (
        f"{spec.name}: sizes {network.layout}, {network.cost} cost, {network.init} init, "
        f"eta {training.eta:g}, mini-batch {training.batch_size}, {regularizer}, {training.dtype}\n"
        f"backend {settings['backend']} on {settings['device']}, seed {settings['seed']} "
        f"({settings['rng']} streams), {n_training:,} training images, "
        f"{training.epochs} epochs{start_note}" + (f", saving every epoch in {saving_in}" if saving_in else "")
    )


def summary(spec: Spec, history: History) -> str:
    best = history.best_validation
    line = (
        f"best validation accuracy {100 * best.validation_accuracy:.2f}% at epoch {best.epoch}; "
        f"test accuracy there {100 * best.test_accuracy:.2f}%; best test accuracy "
        f"{100 * max(r.test_accuracy for r in history.records):.2f}% ({history.stop_reason})"
    )
    if spec.book is not None:
        line += f"\nthe book reports {spec.book.accuracy:g}% {spec.book.metric.replace('_', ' ')}"
        if spec.book.note:
            line += f" ({spec.book.note})"
    return line


class ConsoleReporter:
    """A progress bar over mini-batches on stderr, and one line per epoch on stdout."""

    def __init__(self, show_progress: bool, prefix: str = ""):
        self.show_progress = show_progress
        self.prefix = prefix  # before each line: which member of an ensemble
        self.bar = None

    def epoch_started(self, epoch: int, n_steps: int) -> None:
        if self.show_progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=n_steps, desc=f"{self.prefix}epoch {epoch}", unit="batch", leave=False, mininterval=0.25
            )

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def epoch_finished(self, record: EpochRecord, last_epoch: int) -> None:
        self.close_bar()
        print(
            f"{self.prefix}epoch {record.epoch:3d}/{last_epoch}: validation {100 * record.validation_accuracy:6.2f}%  "
            f"test {100 * record.test_accuracy:6.2f}%  {_training_cost(record)}({record.seconds:.2f} s)",
            flush=True,
        )

    def note(self, message: str) -> None:
        print(f"{self.prefix}{message}", flush=True)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _training_cost(record: EpochRecord) -> str:
    """'training cost 0.0431  ', or nothing where the spec does not evaluate the training set."""
    return "" if record.training_cost is None else f"training cost {record.training_cost:.4f}  "
