"""A sweep: one function called once per set of arguments, in process or as tasks on a Dask cluster.

    with open_sweep(place, log) as sweep:
        results = sweep.map(train_seed, [(spec, 0), (spec, 1)], ["seed 0", "seed 1"])

`map` hands back one TaskResult per call, in the order of the arguments: its value, or its error in
one line; a call that fails does not stop the others. In process (place None) it calls the function
in order, as the commands always have. On a cluster every call is one task: a task whose worker dies
is run again on another worker (Dask's scheduler retries it up to `distributed.scheduler.allowed-failures`
times, 3 by default), so a function that saves its state as it goes (a run's checkpoint directory)
goes on from there. With `progress=True` the function is called with `progress=`, a callable that
takes one line of text; the client prints each line as `NAME: LINE`, and a bar of the calls done.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

from conformance.cluster.place import Place, usable_cores
from conformance.cluster.workers import run_task, worker_environment
from conformance.spec.errors import NndlError, one_line

CONNECT_TIMEOUT_S = 10  # how long --cluster waits for the scheduler to answer
# Dask's nanny sets these in its own process (the client, here) and in its workers' before it starts them. With
# MALLOC_TRIM_THRESHOLD_ set, glibc keeps its mmap threshold fixed, so numpy's arrays of a mini-batch step are
# mapped and unmapped every step: ch3-l2-30's epoch took 1.7 s, against 0.74 s without (measured here). The
# thread variables are set for the workers alone (workers.worker_environment), not for the client.
LOCAL_WORKERS_CONFIG = {
    f"distributed.nanny.pre-spawn-environ.{name}": None
    for name in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
}
NO_DASK = "--workers and --cluster run on Dask, which is not installed: pip install 'nndl[cluster]'"


@dataclass(frozen=True)
class TaskResult:
    """One call's outcome: its value, or (`error`, one line) why it failed."""

    name: str
    value: Any = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@contextlib.contextmanager
def open_sweep(place: Place | None, log: Callable[[str], None], quiet: bool = False) -> Iterator:
    """The sweep for `place`: in process (None), on a local cluster it starts and stops, or on the
    scheduler at place.address. `quiet`: no bar of calls done."""
    if place is None:
        yield InProcessSweep(log, quiet)
        return
    try:
        import dask
        import distributed
    except ImportError:
        raise NndlError(NO_DASK) from None
    with _client(distributed, dask.config, place) as client:
        sweep = DaskSweep(client, place, log, quiet)
        log(sweep.describe())
        yield sweep


class InProcessSweep:
    """Every call in this process, one after another."""

    def __init__(self, log: Callable[[str], None], quiet: bool = False):
        self.log, self.quiet = log, quiet

    def map(self, function, arguments: Sequence[tuple], names: Sequence[str], resources=None, progress=False):
        """`function(*each)` for each of `arguments`, in order. An NndlError (bad input, a missing
        backend, a run that diverged) fails its call only; any other exception is a bug and stops the sweep."""
        results = []
        with _bar(len(arguments), self.quiet) as bar:
            for each, name in zip(arguments, names, strict=True):
                keywords = {"progress": _printer(self.log, name)} if progress else {}
                try:
                    results.append(TaskResult(name, value=function(*each, **keywords)))
                except NndlError as error:
                    results.append(TaskResult(name, error=str(error)))
                except KeyboardInterrupt as interruption:
                    raise _stopped(len(results), len(arguments), interruption) from None
                bar.update()
        return results


class DaskSweep:
    """Every call a task on a Dask cluster, all submitted at once; the results gathered as they finish."""

    def __init__(self, client, place: Place, log: Callable[[str], None], quiet: bool = False):
        self.client, self.place, self.log, self.quiet = client, place, log, quiet

    def describe(self) -> str:
        """The cluster in one line: where, how many workers and threads, and its dashboard if it serves one."""
        info = self.client.scheduler_info()
        workers = info.get("workers", {})
        threads = sum(worker.get("nthreads", 0) for worker in workers.values())
        line = f"sweep on {self.place}: {len(workers)} workers, {threads} threads"
        if "dashboard" not in info.get("services", {}):
            return line
        if self.place.address is None and importlib.util.find_spec("bokeh") is None:
            return line + "; no dashboard: it needs bokeh (pip install bokeh)"
        return line + f"; dashboard at {self.client.dashboard_link}"

    def map(self, function, arguments: Sequence[tuple], names: Sequence[str], resources=None, progress=False):
        """`function(*each)` for each of `arguments`, as tasks; `resources` (like {"GPU": 1}) is what each
        task needs of its worker. A local cluster's workers share this machine's devices and ask for none."""
        from distributed import as_completed

        names = list(names)
        resources = None if self.place.address is None else resources
        lacking = self._lacking(resources)
        if lacking:
            return [TaskResult(name, error=lacking) for name in names]
        topic = f"nndl-progress-{uuid.uuid4().hex}" if progress else None
        if topic:
            self.client.subscribe_topic(topic, lambda event: _printer(self.log, event[1]["run"])(event[1]["line"]))
        futures = [
            self.client.submit(
                run_task, function, name, tuple(each), topic, key=f"{name} ({uuid.uuid4().hex[:8]})", pure=False,
                resources=resources,
            )
            for each, name in zip(arguments, names, strict=True)
        ]  # fmt: skip
        done = 0
        try:
            with _bar(len(futures), self.quiet) as bar:
                for _ in as_completed(futures):
                    done += 1
                    bar.update()
        except KeyboardInterrupt as interruption:
            self.client.cancel(futures)
            raise _stopped(done, len(futures), interruption) from None
        finally:
            if topic:
                self.client.unsubscribe_topic(topic)
        return [_result(name, future) for name, future in zip(names, futures)]

    def _lacking(self, resources: dict | None) -> str | None:
        """Why no worker can run a task needing `resources` (None: one can). Dask would wait for such a
        worker for ever; the sweep says so instead."""
        if not resources:
            return None
        workers = self.client.scheduler_info().get("workers", {}).values()
        if any(all(worker.get("resources", {}).get(k, 0) >= v for k, v in resources.items()) for worker in workers):
            return None
        wanted = " ".join(f"{k}={v}" for k, v in resources.items())
        return f"no worker of {self.place} offers {wanted} (start one with: dask worker ADDRESS --resources {wanted})"


def _result(name: str, future) -> TaskResult:
    if future.status == "finished":
        return TaskResult(name, value=future.result())
    error = future.exception()
    if type(error).__name__ == "KilledWorker":
        return TaskResult(name, error=f"every worker that ran it died ({one_line(error)})")
    return TaskResult(name, error=str(error) if type(error).__name__ == "TaskFailed" else one_line(error))


@contextlib.contextmanager
def _client(distributed, dask_config, place: Place):
    """A Dask client of the scheduler at place.address, or of a local cluster of place.workers processes
    with one Dask thread each, their BLAS, torch and XLA threads shared out so as not to oversubscribe the cores."""
    if place.address is not None:
        try:
            client = distributed.Client(place.address, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            raise NndlError(
                f"--cluster {place.address}: no Dask scheduler answered within {CONNECT_TIMEOUT_S} s ({one_line(error)})"
            ) from None
        with client:
            yield client
        return
    threads = max(1, usable_cores() // place.workers)
    with dask_config.set(LOCAL_WORKERS_CONFIG):
        cluster = distributed.LocalCluster(
            n_workers=place.workers,
            threads_per_worker=1,
            processes=True,
            env=worker_environment(threads),
            preload=["conformance.cluster.workers"],  # its dask_setup: the workers leave Ctrl-C to the client
            dashboard_address=":0",  # any free port: another sweep may hold the default one
            silence_logs=logging.CRITICAL,  # a task's error reaches the user as its one line
        )
    with cluster, distributed.Client(cluster) as client:
        yield client


def _printer(log: Callable[[str], None], name: str) -> Callable[[str], None]:
    """A progress line of one call, printed above the bar of calls done."""

    def say(line: str) -> None:
        with tqdm.external_write_mode(file=sys.stderr):
            log(f"{name}: {line}")

    return say


def _bar(total: int, quiet: bool):
    """The bar of calls done, on a terminal only (tqdm's `disable=None`)."""
    return tqdm(total=total, desc="runs done", unit="run", file=sys.stderr, disable=True if quiet else None)


def _stopped(done: int, total: int, interruption: KeyboardInterrupt) -> KeyboardInterrupt:
    """Ctrl-C in a sweep: how many calls had finished, and what the interrupted call said it saved."""
    said = f" ({interruption})" if interruption.args else ""
    return KeyboardInterrupt(f"{done} of {total} runs finished{said}")
