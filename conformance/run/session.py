"""A training run as one function: `train` trains a spec and returns its history and parameters.

It is the one way a run starts, resumes and finishes: `nndl train`, `nndl reproduce`, each
member `nndl ensemble` trains alone, and a notebook all call it. A run starts from the seed's
draw of initial parameters, or from a checkpoint (`load`). With a `checkpoint_dir` it saves its
state there after every epoch (conformance/run/resume.py); `resume=True` goes on with the run
saved there, from its last complete epoch, and ends bitwise as the run left alone would.

It prints nothing. Progress goes to `reporter` (conformance.run.training.Reporter), what the run
is about to do to `on_start`, each complete epoch to `on_epoch`, and side notes to `log`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conformance.backend import environment
from conformance.backend.contract import require_model_method
from conformance.backend.registry import REFERENCE, load_backend
from conformance.data import streams as shared_streams
from conformance.data.mnist import Log, silent
from conformance.data.splits import Splits, fitting_mnist, splits_for
from conformance.data.streams import Parameters
from conformance.run import resume as saved_runs
from conformance.run.checkpoint import check_parameters, load_checkpoint
from conformance.run.layer_speeds import LayerSpeeds
from conformance.run.training import EpochRecord, History, Reporter
from conformance.run.training import train as train_epochs
from conformance.spec.errors import NndlError
from conformance.spec.spec import Spec

# a run's settings beside its spec (conformance.run.resume.RUN_SETTINGS), where neither the
# caller nor a resumed run gives them
DEFAULT_SETTINGS = {"backend": REFERENCE, "device": "cpu", "seed": 0, "rng": "shared"}
FROM_THE_SEED = "initial parameters from the seed"
NOTHING_SAVED = "nothing was saved (--checkpoint-dir DIR keeps every epoch)"


@dataclass(frozen=True)
class Start:
    """Where a run's training starts: its parameters (None: the seed's draw), its first epoch, the
    epochs it has done already, and how the run's record (`origin`) and a header (`note`) say so."""

    params: Parameters | None
    first_epoch: int
    done: list[EpochRecord]
    origin: str
    note: str


@dataclass(frozen=True)
class Plan:
    """What a run is about to do, handed to `on_start` before its first epoch."""

    spec: Spec
    settings: dict[str, Any]  # backend, device, seed, rng
    splits: Splits
    start: Start


@dataclass(frozen=True)
class TrainedRun:
    """A run once it has trained: its spec, settings, start, history and last parameters."""

    spec: Spec
    settings: dict[str, Any]  # backend, device, seed, rng
    start: str  # where its first epoch started from
    history: History
    parameters: Parameters  # after its last epoch
    layer_speeds: LayerSpeeds | None = None

    @property
    def epochs_trained(self) -> int:
        return self.history.records[-1].epoch

    def record(self) -> dict[str, Any]:
        """The run as `nndl train --json` writes it."""
        backend, device = self.settings["backend"], self.settings["device"]
        record = {
            "spec": self.spec.to_dict(),
            **self.settings,
            "start": self.start,
            "ran_on": environment.describe({backend: load_backend(backend)}, device),
            **self.history.to_dict(),
        }
        if self.layer_speeds is not None:
            record["layer_speeds"] = self.layer_speeds.to_dict()
        return record

    def checkpoint_metadata(self) -> dict[str, Any]:
        """What a checkpoint of the run's parameters says about them (`nndl train --save`)."""
        return {**self.settings, "epochs_trained": self.epochs_trained}


def train(
    spec: Spec | None = None,
    backend: str | None = None,
    *,
    seed: int | None = None,
    rng: str | None = None,
    device: str | None = None,
    data=None,
    load: str | Path | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    allow_changes: bool = False,
    layer_speeds: bool = False,
    reporter: Reporter | None = None,
    on_start: Callable[[Plan], None] | None = None,
    on_epoch: Callable[[History, Any], None] | None = None,
    log: Log | None = None,
) -> TrainedRun:
    """Train `spec` with `backend` (a registered name or a backend module's dotted path).

    Settings left as None (backend, seed, rng, device) are the resumed run's, else DEFAULT_SETTINGS'.
    `spec` left as None is the resumed run's, or the one the `load` checkpoint carries. `data` is
    an MNIST file (None: $NNDL_DATA, the cache or a download), or the splits already loaded
    (conformance.data.splits.splits_for). `rng`: "shared", the NumPy streams every backend can
    reproduce, or "native", the backend's own generator. `resume=True` goes on with the run in
    `checkpoint_dir`; a resumed run whose spec or settings differ from the saved ones is refused
    unless `allow_changes`. `layer_speeds` records chapter 5's speed of learning every epoch.
    """
    log = log or silent
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    saved = _saved_run(folder, resume, load)
    checkpoint = load_checkpoint(load) if load is not None else None
    spec = fitting_mnist(_spec_of_run(spec, saved, checkpoint, load), "the spec")
    settings = _settings(saved, backend=backend, device=device, seed=seed, rng=rng)
    if settings["backend"] == "auto":
        raise NndlError("backend 'auto' is `nndl train`'s (conformance.speed.fastest picks one); name a backend")
    if saved is not None:
        saved_runs.check_changes(saved, spec, saved_runs.run_settings(**settings), allow_changes, log)
        saved_runs.check_epochs(saved, spec)
        finished = saved_runs.finished(saved, spec)
        if finished is not None:
            if reporter is not None:
                reporter.note(saved_runs.finished_note(saved, finished))
            return TrainedRun(spec, settings, saved.start, finished, saved.params)
    start = _start_of_run(spec, checkpoint, load, saved)
    recorder = None
    if folder is not None:
        run_settings = saved_runs.run_settings(**settings)
        recorder = saved_runs.start_recording(folder, spec, run_settings, start.origin, start.first_epoch, bool(saved))
    model_backend = load_backend(settings["backend"])
    require_model_method(model_backend, "evaluate", "nndl train reports each epoch's accuracy with it")
    model_backend.resolve_device(settings["device"])
    streams = _streams(model_backend, settings, log)
    splits = data if isinstance(data, dict) else splits_for(spec, data, log)
    if on_start is not None:
        on_start(Plan(spec, settings, splits, start))
    speeds = _layer_speeds(model_backend, spec, splits, streams, start, settings) if layer_speeds else None
    try:
        history, model = train_epochs(
            model_backend,
            spec,
            splits,
            settings["seed"],
            initial=start.params,
            reporter=reporter,
            first_epoch=start.first_epoch,
            device=settings["device"],
            streams=streams,
            done=start.done,
            on_epoch=_each(recorder.save if recorder else None, speeds.on_epoch if speeds else None, on_epoch),
        )
    except KeyboardInterrupt:
        raise KeyboardInterrupt(recorder.interrupted() if recorder else NOTHING_SAVED) from None
    return TrainedRun(spec, settings, start.origin, history, model.parameters(), speeds)


def train_in_folder(
    spec: Spec, backend: str, seed: int, device: str, data, folder, progress=None, allow_changes: bool = False
) -> tuple[TrainedRun, int | None]:
    """One run of a sweep (a task of `nndl reproduce` or `nndl ensemble`): `seed`'s run (shared streams),
    saved in `folder` after every epoch, going on from the last complete epoch saved there. `progress`:
    called with one line per epoch. With the run, the last epoch the folder held when the call began
    (None: the run began at the seed)."""
    folder = Path(folder)
    state = folder / saved_runs.STATE_FILE
    resumed_after = saved_runs.load_run(folder).last_saved_epoch if state.exists() else None
    trained = train(
        spec,
        backend,
        seed=seed,
        rng="shared",
        device=device,
        data=data,
        checkpoint_dir=folder,
        resume=resumed_after is not None,
        allow_changes=allow_changes,
        on_epoch=epoch_line(progress, spec.training.epochs) if progress else None,
    )
    return trained, resumed_after


def epoch_line(progress, epochs: int):
    """A run's on_epoch that hands `progress` one line: the epoch of `epochs`, and its accuracies."""

    def say(history: History, model) -> None:
        record = history.records[-1]
        progress(
            f"epoch {record.epoch}/{epochs}, validation accuracy {100 * record.validation_accuracy:.2f}%, "
            f"test accuracy {100 * record.test_accuracy:.2f}%"
        )

    return say


def _saved_run(folder: Path | None, resume: bool, load) -> saved_runs.SavedRun | None:
    """The run to go on with, when resuming: it goes on from where it stopped, so from no checkpoint."""
    if not resume:
        return None
    if folder is None:
        raise NndlError("resume=True goes on with the run saved in a checkpoint_dir; name the directory")
    if load is not None:
        raise NndlError(f"a resumed run goes on from its own state in {folder}; leave out load={load!r}")
    return saved_runs.load_run(folder)


def _spec_of_run(spec: Spec | None, saved, checkpoint, load) -> Spec:
    """The spec given, else the resumed run's, else the one the checkpoint carries."""
    if spec is not None:
        return spec
    if saved is not None:
        return saved.spec
    if checkpoint is not None and checkpoint.spec is not None:
        return checkpoint.spec
    if checkpoint is not None:
        raise NndlError(f"{load} does not carry a spec (the book's format): name the network's spec")
    raise NndlError("name the network: a spec, a checkpoint to load that carries one, or a run to resume")


def _settings(saved, **given) -> dict[str, Any]:
    """Each of backend, device, seed and rng: as given, else the resumed run's, else its default."""
    return {
        name: value if value is not None else (saved.settings[name] if saved else DEFAULT_SETTINGS[name])
        for name, value in given.items()
    }


def _streams(backend, settings: dict[str, Any], log: Log):
    """The random streams of a run: the shared NumPy ones, or with rng "native" the backend's own."""
    if settings["rng"] == "shared":
        return shared_streams
    if not hasattr(backend, "NativeStreams"):
        name = settings["backend"]
        log(f"--rng native: the {name} backend's own generator is NumPy's, so native is the shared streams")
        return shared_streams
    return backend.NativeStreams(backend.resolve_device(settings["device"]))


def _start_of_run(spec: Spec, checkpoint, load, saved) -> Start:
    if saved is not None:
        check_parameters(spec.network, saved.params, str(saved.folder))
        note = f", going on after epoch {saved.last_saved_epoch} saved in {saved.folder}"
        return Start(saved.params, saved.first_epoch, saved.records, saved.start, note)
    if checkpoint is not None:
        check_parameters(spec.network, checkpoint.params, str(load))
        first_epoch = checkpoint.metadata.get("epochs_trained", 0) + 1
        return Start(checkpoint.params, first_epoch, [], str(load), f", starting from {load}")
    return Start(None, 1, [], FROM_THE_SEED, "")


def _layer_speeds(backend, spec: Spec, splits: Splits, streams, start: Start, settings) -> LayerSpeeds:
    """Chapter 5's speed of learning, measured before the first epoch (and then after each)."""
    speeds = LayerSpeeds(spec, splits["training"])
    initial = start.params if start.params is not None else streams.initial_parameters(spec.network, settings["seed"])
    speeds.at_start(backend, initial, start.first_epoch - 1 + len(start.done), settings["device"])
    return speeds


def _each(*callbacks):
    """One on_epoch callback that calls each of `callbacks` that is not None (or None, if none is)."""
    given = [callback for callback in callbacks if callback is not None]
    if not given:
        return None

    def each(history, model):
        for callback in given:
            callback(history, model)

    return each
