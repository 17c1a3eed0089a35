"""Runs that survive a kill: a training run's state, saved after every epoch, and taken up again.

`nndl train --checkpoint-dir DIR` keeps one file, DIR/last.npz: an ordinary nndl checkpoint of
the parameters after the last complete epoch (`nndl evaluate` and `--load` read it), whose header
also holds what the run needs to go on: its spec, its settings (backend, device, seed, rng and
the sha256 of the MNIST file it trains on), where it started, and the record of every epoch so
far. The file is replaced atomically after every epoch, so a kill at any moment leaves the
previous epoch's state or the new one, never a torn file. The eta schedule's state is not saved:
it follows from the records (training.stop_reason replays them).

`nndl train --resume DIR` reads the state back (load_run), refuses a command line that would
make it another run (check_changes), and goes on from the epoch after the last one saved.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from conformance.data.mnist import MNIST_SHA256
from conformance.data.streams import Parameters
from conformance.run.checkpoint import load_checkpoint, save_checkpoint
from conformance.run.training import RAN_EVERY_EPOCH, EpochRecord, History, stop_reason
from conformance.spec.errors import CheckpointError, NndlError
from conformance.spec.spec import Spec

STATE_FILE = "last.npz"
# what makes a run the run it is, beside its spec; --resume takes them from the saved run
RUN_SETTINGS = ("backend", "device", "seed", "rng")


@dataclass(frozen=True)
class SavedRun:
    """A run's state as its folder holds it: the run so far, up to its last complete epoch."""

    folder: Path
    spec: Spec
    params: Parameters  # after the last epoch of `records`
    settings: dict[str, Any]  # RUN_SETTINGS and mnist_sha256
    start: str  # where the run's first epoch started from
    records: list[EpochRecord]

    @property
    def first_epoch(self) -> int:
        return self.records[0].epoch

    @property
    def last_saved_epoch(self) -> int:
        return self.records[-1].epoch


def run_settings(backend: str, device: str, seed: int, rng: str) -> dict[str, Any]:
    """A run's settings beside its spec, and the data it trains on: the MNIST file every split
    comes from (the expanded set is built from it in a fixed order that nndl checks)."""
    return {"backend": backend, "device": device, "seed": seed, "rng": rng, "mnist_sha256": MNIST_SHA256}


def prepare_run_folder(folder: Path) -> None:
    """Make `folder` ready for a new run, or refuse it if it holds one already."""
    if (folder / STATE_FILE).exists():
        raise NndlError(
            f"--checkpoint-dir {folder} already holds a run; go on with it with --resume {folder}, "
            "or choose another directory"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise NndlError(f"--checkpoint-dir {folder}: cannot make the directory ({error.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise NndlError(f"--checkpoint-dir {folder}: the directory is not writable")


def load_run(folder: Path) -> SavedRun:
    path = folder / STATE_FILE
    if not path.is_file():
        raise NndlError(f"--resume {folder}: no run there (no {STATE_FILE}); start one with --checkpoint-dir {folder}")
    checkpoint = load_checkpoint(path)
    header = checkpoint.metadata
    try:
        records = [EpochRecord(**record) for record in header["history"]]
        settings = {name: header[name] for name in (*RUN_SETTINGS, "mnist_sha256")}
        start = header["start"]
    except (KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is a checkpoint but not a run's state ({error!r} is missing or wrong)") from None
    if not records:
        raise CheckpointError(f"{path} holds a run without a complete epoch")
    return SavedRun(folder, checkpoint.spec, checkpoint.params, settings, start, records)


def check_changes(saved: SavedRun, spec: Spec, settings: dict[str, Any], allowed: bool, log) -> None:
    """Refuse a resumption that would change the run, unless `allowed`; then say what changes.

    A resumed run is bitwise the run left alone only with the same spec, settings and data.
    The number of epochs is not a change: --epochs N sets the run's total.
    """
    changes = _changes(saved, spec, settings)
    if not changes:
        return
    if not allowed:
        raise NndlError(
            f"--resume {saved.folder}: the command line changes the run's {', '.join(changes)}; "
            "leave those options out, or pass --allow-changes to go on with them"
        )
    log(f"going on with changes to the run in {saved.folder}: {', '.join(changes)}")


def _changes(saved: SavedRun, spec: Spec, settings: dict[str, Any]) -> list[str]:
    """Each spec key and setting that differs, as 'training.eta (0.5 to 0.25)'."""
    before = {**_flatten(saved.spec.to_dict()), **saved.settings}
    after = {**_flatten(spec.to_dict()), **settings}
    keys = [key for key in dict.fromkeys([*before, *after]) if key != "training.epochs"]
    return [
        f"{key} ({before.get(key, 'none')} to {after.get(key, 'none')})"
        for key in keys
        if before.get(key) != after.get(key)
    ]


def _flatten(tree: Any, name: str = "") -> dict[str, Any]:
    """A spec's dict key by key: {'training.eta': 0.5, 'network.layers[0].size': 30, ...}."""
    if isinstance(tree, dict):
        parts = {f"{name}.{key}" if name else key: value for key, value in tree.items()}
    elif isinstance(tree, list):
        parts = {f"{name}[{i}]": value for i, value in enumerate(tree)}
    else:
        return {name: tree}
    return {key: value for part, subtree in parts.items() for key, value in _flatten(subtree, part).items()}


def check_epochs(saved: SavedRun, spec: Spec) -> None:
    trained = len(saved.records)
    if spec.training.epochs < trained:
        raise NndlError(
            f"--epochs {spec.training.epochs}: the run in {saved.folder} has trained {trained} epochs already"
        )


def finished(saved: SavedRun, spec: Spec) -> History | None:
    """The whole run's history if it has nothing left to train under `spec`, else None.

    A run is finished once it has trained its epochs or its schedule stopped it; a run that
    stopped early stays stopped whatever --epochs says, as it would have left alone.
    """
    reason = stop_reason(spec.training, saved.records)
    if reason is None and len(saved.records) >= spec.training.epochs:
        reason = RAN_EVERY_EPOCH
    return None if reason is None else History(list(saved.records), reason)


def finished_note(saved: SavedRun, history: History) -> str:
    note = f"the run in {saved.folder} is finished after epoch {saved.last_saved_epoch}: {history.stop_reason}"
    if history.stop_reason == RAN_EVERY_EPOCH:
        note += f"; --epochs N (more than {len(saved.records)}) goes on to N epochs in all"
    return note


def start_recording(folder: Path, spec: Spec, settings, start: str, first_epoch: int, resumed: bool) -> RunRecorder:
    """What saves a run in `folder` after every epoch; a new run's folder is made ready (or refused) first."""
    if not resumed:
        prepare_run_folder(folder)
    return RunRecorder(folder, spec, settings, start, first_epoch, resumed)


class RunRecorder:
    """Saves a run's state in its folder after every complete epoch, and says what is saved."""

    def __init__(self, folder: Path, spec: Spec, settings: dict[str, Any], start: str, first_epoch: int, resumed: bool):
        self.folder, self.path = folder, folder / STATE_FILE
        self.spec, self.settings, self.start = spec, settings, start
        self.last_epoch = first_epoch + spec.training.epochs - 1
        self.replaces = resumed  # a new run's first save replaces nothing, not even a run made meanwhile

    def save(self, history: History, model) -> None:
        """train's on_epoch: replace the state with the one after the epoch just finished."""
        metadata = {
            **self.settings,
            "start": self.start,
            "epochs_trained": history.records[-1].epoch,
            "history": [asdict(record) for record in history.records],
        }
        save_checkpoint(self.path, self.spec, model.parameters(), metadata, overwrite=self.replaces)
        self.replaces = True

    def interrupted(self) -> str:
        """What an interruption leaves behind, read from the folder itself."""
        if not self.path.exists():
            return f"no epoch was complete, so nothing was saved in {self.folder}"
        saved = load_run(self.folder)
        return (
            f"epoch {saved.last_saved_epoch} of {self.last_epoch} is saved in {self.folder}; "
            f"resume with: nndl train --resume {self.folder}"
        )
