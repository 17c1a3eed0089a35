"""What a sweep's workers run: each task's call, the progress lines it sends back, and the threads a
local cluster's workers compute with.

A task is `run_task(function, name, arguments, topic)`: the function is pickled by reference (an
importable module-level function), so every worker imports nndl's own code for it. Progress goes
back to the client as Dask events on the sweep's own topic (Worker.log_event, Client.subscribe_topic),
so that the client, never a worker, prints and writes.
"""

from __future__ import annotations

import functools
import os
import signal

import threadpoolctl

from conformance.spec.errors import NndlError, one_line

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
# XLA's CPU client computes one operation with one thread under these flags (jax reads them at import)
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


class TaskFailed(Exception):
    """A task's error as one line, raised on the worker in place of the original: it pickles whatever
    the original was (some of nndl's errors take other arguments than their message)."""


def run_task(function, name: str, arguments: tuple, topic: str | None):
    """Call `function(*arguments)` on a worker; with a `topic`, it gets `progress=` a callable that sends
    one line of text back to the client under that topic."""
    keywords = {"progress": functools.partial(send_progress, topic, name)} if topic else {}
    hold_blas_to_the_threads_set()
    try:
        return function(*arguments, **keywords)
    except NndlError as error:
        raise TaskFailed(str(error)) from None
    except Exception as error:  # noqa: BLE001 (a worker's exception reaches the user as one line, like any other)
        raise TaskFailed(one_line(error)) from None


def hold_blas_to_the_threads_set() -> None:
    """The BLAS held to the worker's OMP_NUM_THREADS (threadpoolctl). A local cluster's nanny sets the
    variable once the worker process runs, after NumPy, and so its BLAS, has started with one thread per
    core (measured: 2 threads on this 2-core machine with the variable at 1). torch and jax are imported
    by the first task, after it, and read the variables themselves."""
    threads = os.environ.get(THREAD_VARIABLES[0])
    if threads:
        threadpoolctl.threadpool_limits(int(threads))


def send_progress(topic: str, name: str, line: str) -> None:
    from distributed import get_worker

    get_worker().log_event(topic, {"run": name, "line": line})


def dask_setup(worker) -> None:
    """A local cluster's workers preload this module (Dask calls its `dask_setup` as a worker starts, in the
    worker's main thread): Ctrl-C reaches the whole process group, and the client, not each worker, answers it
    (it stops the sweep and closes the cluster), so a worker ignores it rather than print a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def worker_environment(threads: int) -> dict[str, str]:
    """The environment of a local cluster's worker processes: BLAS (OpenMP, OpenBLAS, MKL) and torch
    with `threads` threads (torch reads OMP_NUM_THREADS when it is imported), and with one thread XLA too.

    XLA has no flag for a thread count other than one; with more, it uses every core it sees.
    """
    environment = {name: str(threads) for name in THREAD_VARIABLES}
    if threads == 1:
        environment["XLA_FLAGS"] = " ".join(flag for flag in (os.environ.get("XLA_FLAGS"), XLA_ONE_THREAD) if flag)
    return environment
