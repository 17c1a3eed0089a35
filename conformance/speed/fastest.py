"""`nndl train --backend auto`: the fastest installed backend for a spec, measured once and cached.

Each installed backend that runs on the device trains the same network, from the same initial
parameters, on the whole training set prepared in its own arrays, through the first 2,000
examples of the same epoch plans: one such part of an epoch to warm up (a backend that compiles
does it then), then up to three timed ones, of which the best counts. The rows are gathered from
the whole set, as in a real epoch: a backend timed on a small set would be flattered by its
cache. A backend already three times slower than the best so far is timed no further: on a busy
machine with 2 cores, an epoch at mini-batch 10 can take seconds in a framework that pays for
dispatch.

The answer is kept in the cache (``cache_dir()/fastest-backend.json``) under a key of everything
it depends on: the network, mini-batch size, dtype and regulariser, the device, the versions of
each registered backend's FRAMEWORKS and its own code, and the machine. Anything else (the seed,
eta, the number of epochs) leaves the time of an epoch as it is. Finding that key loads every
registered backend, so that each says which frameworks it is made of.

Backend-free at import: frameworks are imported only through `conformance.backend.registry.load_backend`.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conformance.backend.registry import backend_names, load_backend
from conformance.data.mnist import Split, cache_dir
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.run.training import prepare_data, train_epoch
from conformance.spec.errors import DivergenceError, NndlError
from conformance.spec.files import write_atomically
from conformance.spec.spec import Spec
from conformance.speed.bench import SWITCH_PAUSE

CACHE_FILENAME = "fastest-backend.json"
MEASURED_EXAMPLES = 2_000  # the first N examples of each epoch's order: 200 steps at mini-batch 10
TIMED_EPOCHS = 3  # after one untimed warm-up epoch; the best of them counts
HOPELESS = 3.0  # a backend this many times slower than the best so far after a timed epoch is timed no further
MEASUREMENT_SEED = 0  # the measurement's own parameters and plans, whatever the run's --seed

# environment variables that set how many threads the frameworks use
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "XLA_FLAGS")


@dataclass(frozen=True)
class Choice:
    """The backend `--backend auto` picked, and the measurement behind it."""

    backend: str
    seconds: dict[str, float]  # backend -> its best epoch on `examples` images; empty when nothing was timed
    examples: int
    measured_on: str  # ISO date
    cached: bool  # True: read from the cache; False: measured now (or nothing to measure)
    cache_path: Path | None  # where the answer is kept; None when it is not

    def describe(self, spec: Spec, device: str) -> str:
        """One line for the user: which backend, and whether the times were measured now or cached."""
        setting = f"{spec.network.layout}, mini-batch {spec.training.batch_size}, {spec.training.dtype},"
        if not self.seconds:
            return f"--backend auto: {self.backend} is the only installed backend that runs on {device}"
        times = ", ".join(f"{name} {self.seconds[name]:.3g} s" for name in backend_names() if name in self.seconds)
        times += f" per epoch of {self.examples:,} images"
        if self.cached:
            where = f"cached measurement of {self.measured_on}: {times}, in {self.cache_path}; --remeasure to redo it"
        else:
            where = f"measured now: {times}; " + (f"cached in {self.cache_path}" if self.cache_path else "not cached")
        return f"--backend auto: {self.backend} is the fastest installed backend for {setting} on {device} ({where})"


def fastest_backend(
    spec: Spec,
    training_split: Split,
    device: str,
    log,
    remeasure: bool = False,
    examples: int = MEASURED_EXAMPLES,
) -> Choice:
    """The fastest installed backend for `spec` on `device`: from the cache, or measured now on the
    first `examples` examples of epochs over `training_split`, and cached. `remeasure` measures even when the cache
    has an answer. Warnings and progress go to `log`; an NndlError when no backend runs on `device`."""
    n = min(examples, len(training_split))
    conditions = measurement_conditions(spec, device, n)
    path, key = cache_path(), _key_of(conditions)
    entries = read_cache(path, log)
    if key in entries and not remeasure:
        entry = entries[key]
        return Choice(_fastest(entry["seconds"]), entry["seconds"], n, entry["measured_on"], True, path)
    candidates = runnable_backends(device, log)
    today = datetime.date.today().isoformat()
    if len(candidates) == 1:
        return Choice(next(iter(candidates)), {}, n, today, False, None)
    log(f"--backend auto: timing {', '.join(candidates)} on {n:,} training images (once for this net on this machine)")
    seconds = measure_backends(spec, training_split, n, device, candidates)
    entries[key] = {"seconds": seconds, "measured_on": today, "conditions": conditions}
    saved = write_cache(path, entries, log)
    return Choice(_fastest(seconds), seconds, n, today, False, path if saved else None)


def _fastest(seconds: dict[str, float]) -> str:
    return min(seconds, key=seconds.get)


# -- what the answer depends on ---------------------------------------------------------------


def cache_path() -> Path:
    return cache_dir() / CACHE_FILENAME


def cache_key(spec: Spec, device: str, examples: int) -> str:
    """A short digest of `measurement_conditions`: equal keys, the same answer."""
    return _key_of(measurement_conditions(spec, device, examples))


def _key_of(conditions: dict) -> str:
    return hashlib.sha256(json.dumps(conditions, sort_keys=True).encode()).hexdigest()[:24]


def measurement_conditions(spec: Spec, device: str, examples: int) -> dict:
    """Everything the time of an epoch depends on, and nothing else (not the seed, eta or epochs)."""
    training = spec.training
    return {
        "network": {key: value for key, value in spec.to_dict()["network"].items() if key != "init"},
        "training": {"batch_size": training.batch_size, "dtype": training.dtype, "regularizer": training.regularizer},
        "examples": examples,
        "device": device,
        "backends": {name: _installed(name) for name in backend_names()},
        "machine": _machine(),
        "threads": {name: os.environ.get(name) for name in THREAD_VARIABLES},
    }


def _installed(name: str) -> dict | None:
    """The versions of a backend's FRAMEWORKS and a digest of its own code; None when it does not load."""
    try:
        backend = load_backend(name)
    except NndlError:  # not installed, or breaking the contract: it is not timed either
        return None
    versions = {distribution: _version(distribution) for distribution in backend.FRAMEWORKS}
    return {"versions": versions, "code": _code_digest(backend)}


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _code_digest(backend) -> str | None:
    """sha256 of the Python files of the backend's package, or of its module when it is a single file."""
    if getattr(backend, "__file__", None) is None:
        return None
    path = Path(backend.__file__)
    sources = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
    digest = hashlib.sha256()
    for source in sources:
        digest.update(source.name.encode() + source.read_bytes())
    return digest.hexdigest()[:16]


def _machine() -> dict:
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "processor": _cpu_model() or platform.processor(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    """The CPU's model name on Linux ('' elsewhere, where platform.processor() says more)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        return ""


# -- the cache file ---------------------------------------------------------------------------


def read_cache(path: Path, log) -> dict:
    """The cache's entries; {} when there is no cache, and a one-line warning when it cannot be used."""
    try:
        entries = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        problem = str(error)
    else:
        problem = _malformed(entries)
    if problem:
        log(f"--backend auto: ignoring the cache {path} ({problem}); measuring again")
        return {}
    return entries


def _malformed(entries) -> str | None:
    """What is wrong with the cache's contents, or None when every entry is
    {"seconds": {known backend: seconds > 0, ...}, "measured_on": date, ...}."""
    if not isinstance(entries, dict):
        return "not a JSON object"
    names = backend_names()
    for key, entry in entries.items():
        seconds = entry.get("seconds") if isinstance(entry, dict) else None
        if (
            not isinstance(seconds, dict)
            or not seconds
            or not all(name in names and isinstance(s, (int, float)) and s > 0 for name, s in seconds.items())
            or not isinstance(entry.get("measured_on"), str)
        ):
            return f"entry {key} is malformed"
    return None


def write_cache(path: Path, entries: dict, log) -> bool:
    """Write the entries atomically; False (and a one-line warning) when the cache cannot be written."""
    text = json.dumps(entries, indent=2, sort_keys=True)
    try:
        write_atomically(path, lambda f: f.write(text.encode()), overwrite=True)
    except OSError as error:
        log(f"--backend auto: could not cache the measurement in {path} ({error})")
        return False
    return True


# -- measuring --------------------------------------------------------------------------------


def runnable_backends(device: str, log) -> dict:
    """name -> module of every installed backend that runs on `device`; the others are named in `log`."""
    runnable, reasons = {}, {}
    for name in backend_names():
        try:
            backend = load_backend(name)
            backend.resolve_device(device)
        except NndlError as error:  # not installed (BackendNotInstalledError), or not on this device
            reasons[name] = str(error)
            continue
        runnable[name] = backend
    if not runnable:
        why = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
        raise NndlError(f"--backend auto: no installed backend runs on {device} ({why})")
    for name, reason in reasons.items():
        log(f"--backend auto: leaving out {name}: {reason}")
    return runnable


def measure_backends(spec: Spec, training_split: Split, examples: int, device: str, backends: dict) -> dict[str, float]:
    """backend name -> its best time (seconds) for the first `examples` steps' worth of an epoch over
    `training_split`, one backend after the other."""
    params = initial_parameters(spec.network, MEASUREMENT_SEED)
    plans = [
        epoch_plan(spec, len(training_split), epoch, MEASUREMENT_SEED).rows(slice(examples))
        for epoch in range(1, TIMED_EPOCHS + 2)
    ]
    seconds = {}
    for name, backend in backends.items():
        time.sleep(SWITCH_PAUSE)  # let the previous library's idle threads stop spinning (see bench)
        hopeless_above = HOPELESS * min(seconds.values(), default=math.inf)
        try:
            seconds[name] = _best_epoch_seconds(backend, spec, params, training_split, device, plans, hopeless_above)
        except DivergenceError as error:
            what = f"timing {name} on {examples:,} training images"
            raise NndlError(f"--backend auto: {what}: {error}") from None
    return seconds


def _best_epoch_seconds(
    backend, spec: Spec, params, training_split: Split, device: str, plans, hopeless_above
) -> float:
    """The best time of the plans' epochs after the first, which warms the backend up (and compiles, if it does).

    A backend whose best is still above `hopeless_above` after a timed epoch cannot be the fastest,
    and is timed no further.
    """
    model = backend.Model(spec, params, device)
    n_classes = spec.network.layers[-1].size
    images, labels = training_split.images, training_split.labels
    data = prepare_data(backend.asarray, images, labels, n_classes, spec.training.dtype, device)
    _epoch_seconds(model, data, plans[0], spec)
    best = math.inf
    for plan in plans[1:]:
        best = min(best, _epoch_seconds(model, data, plan, spec))
        if best > hopeless_above:
            break
    return best


def _epoch_seconds(model, data, plan, spec: Spec) -> float:
    started = time.perf_counter()
    with np.errstate(over="ignore"):  # as Model.train_epoch does: see reference.activations.Sigmoid
        train_epoch(model, data, plan, spec.training.eta, spec.training.batch_size)
    model.parameters()  # a copy to NumPy: waits for an asynchronous device to finish
    return time.perf_counter() - started
