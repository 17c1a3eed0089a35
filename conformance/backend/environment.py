"""What a run ran on, for its record: the versions, the processor, the cores and each framework's threads.

A float32 result can depend on the processor and on the thread count (oneDNN and OpenBLAS pick
their kernels, and so their order of summation, by both), so every `--json` that `conform`,
`bench`, `train` and `reproduce` write says what it ran on, and the conformance report's header
says it in one line. Nothing here imports a framework: versions come from the installed
distributions, threads from each backend's own `threads()` (optional in the contract).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

from conformance.backend.registry import BUILT_IN_FRAMEWORKS

# the environment variables that set the threads, or the kernels, the frameworks compute with
SETTINGS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE", "XLA_FLAGS")
# the vector extensions oneDNN, OpenBLAS and XLA choose kernels by (x86's cpuinfo flags, Arm's features)
VECTOR_EXTENSIONS = (
    "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile",
    "asimd", "sve", "sve2",
)  # fmt: skip
CPUINFO = Path("/proc/cpuinfo")


def describe(backends: dict, device: str) -> dict:
    """The record of what this process runs on; `backends` by name, each asked for its threads."""
    distributions = dict.fromkeys(BUILT_IN_FRAMEWORKS)
    for backend in backends.values():
        distributions.update(dict.fromkeys(backend.FRAMEWORKS))
    return {
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in distributions},  # None: not installed
        "processor": _processor(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "settings": {name: os.environ[name] for name in SETTINGS if name in os.environ},
        "threads": {
            name: {"frameworks": list(backend.FRAMEWORKS), **_threads(backend)} for name, backend in backends.items()
        },
        "device": device,
    }


def summary(record: dict) -> str:
    """The record in one line: 'ran on: MODEL (EXTENSIONS), 2 cores; Python ..., numpy ... (2 threads), ...'."""
    processor = record["processor"]
    extensions = " ".join(processor["vector_extensions"]) or "no vector extension read"
    frameworks = []
    for threads in record["threads"].values():
        versions = "/".join(f"{name} {record['versions'].get(name)}" for name in threads["frameworks"])
        if versions:  # a port that names no FRAMEWORKS adds nothing to the line
            frameworks.append(versions + (f" ({threads['summary']})" if threads.get("summary") else ""))
    settings = ", ".join(f"{name}={value}" for name, value in record["settings"].items())
    return (
        f"ran on: {processor['model']} ({extensions}), {record['usable_cores']} of {record['cores']} cores; "
        f"Python {record['python']}, {', '.join(frameworks)}; device {record['device']}"
        + (f"; {settings}" if settings else "")
    )


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _threads(backend) -> dict:
    """The backend's own account of its threads, or why there is none."""
    report = getattr(backend, "threads", None)
    if report is None:
        return {"summary": "", "not_reported": f"backend {backend.NAME} has no threads()"}
    return report()


def _processor() -> dict:
    """The processor's model and the vector extensions it has, from /proc/cpuinfo where there is one."""
    model, flags = platform.processor() or platform.machine(), set()
    if CPUINFO.exists():
        for line in CPUINFO.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key = key.strip().lower()
            if key in ("model name", "hardware", "cpu model") and value.strip():
                model = value.strip()
            elif key in ("flags", "features") and not flags:
                flags = set(value.split())
    return {
        "model": model,
        "machine": platform.machine(),
        "vector_extensions": [name for name in VECTOR_EXTENSIONS if name in flags],
    }
