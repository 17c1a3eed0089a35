"""Where this backend's arrays live, and how NumPy arrays become them: for NumPy, the CPU, as they are."""

import numpy as np
from threadpoolctl import threadpool_info

from conformance.spec.errors import NndlError


def resolve_device(name):
    """NumPy runs on the CPU only: "cpu", or a one-line error saying what to do."""
    if name != "cpu":
        raise NndlError(f"--device {name}: the numpy backend runs on the CPU only; use --backend torch for {name}")
    return name


def asarray(array, device="cpu"):
    """A NumPy array as this backend's array on `device`, with its dtype: here, a contiguous NumPy array."""
    resolve_device(device)
    return np.ascontiguousarray(array)


def threads():
    """The threads NumPy computes with: its BLAS's (matrix products, the convolution's tensordot), as
    threadpoolctl reads them from the loaded library, with the kernel family BLAS chose for this processor."""
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    if not pools:
        return {"summary": "no BLAS threads read", "threads": None}
    blas = pools[0]
    kernel = blas.get("architecture") or ""
    return {
        "summary": f"{blas['internal_api']} {_in_words(blas['num_threads'])}" + (f", {kernel}" if kernel else ""),
        "threads": blas["num_threads"],
        "blas": f"{blas['internal_api']} {blas.get('version') or ''}".strip(),
        "kernel": kernel,
    }


def _in_words(threads):
    """'1 thread', '2 threads'."""
    return f"{threads} thread" + ("" if threads == 1 else "s")
