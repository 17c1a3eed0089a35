"""Where a sweep runs: in process (no option), on a local cluster (`--workers N`) or on a running
Dask scheduler (`--cluster ADDRESS`, or $NNDL_CLUSTER, so that a SLURM script only sets it)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from conformance.spec.errors import NndlError

CLUSTER_VARIABLE = "NNDL_CLUSTER"


@dataclass(frozen=True)
class Place:
    """A local cluster of `workers` worker processes, or the scheduler at `address` (one of the two)."""

    workers: int | None = None
    address: str | None = None

    def __str__(self) -> str:
        if self.address is not None:
            return f"the Dask scheduler at {self.address}"
        return f"a local Dask cluster of {self.workers} worker processes"


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def add_cluster_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        metavar="N",
        help="run each run as a task on a local Dask cluster of N worker processes, one thread each "
        "(0 or auto: one per core); needs pip install 'nndl[cluster]'",
    )
    parser.add_argument(
        "--cluster",
        metavar="ADDRESS",
        help=f"run each run as a task on the Dask scheduler at ADDRESS (tcp://HOST:8786; also ${CLUSTER_VARIABLE})",
    )


def place_from_args(args) -> Place | None:
    """The place the options name: None (in process), a local cluster, or a scheduler's address.

    --workers wins over $NNDL_CLUSTER; --workers with --cluster is refused (the cluster has its own workers).
    """
    if args.workers is not None and args.cluster is not None:
        raise NndlError("--workers starts workers on this machine, --cluster uses a cluster's: give one of the two")
    if args.workers is not None:
        return Place(workers=_workers(args.workers))
    address = args.cluster or os.environ.get(CLUSTER_VARIABLE) or None
    return Place(address=address) if address else None


def _workers(text: str) -> int:
    """--workers N: N worker processes; 0 or auto: one per usable core."""
    if text == "auto":
        return usable_cores()
    try:
        workers = int(text)
    except ValueError:
        raise NndlError(f"--workers {text!r}: give a number of worker processes, or auto (one per core)") from None
    if workers < 0:
        raise NndlError(f"--workers {workers}: give a number of worker processes (0 or auto: one per core)")
    return workers or usable_cores()
