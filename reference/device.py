"""Where this backend's arrays live, and how NumPy arrays become them: for NumPy, the CPU, as they are."""

import numpy as np

from conformance.errors import NndlError


def resolve_device(name):
    """NumPy runs on the CPU only: "cpu", or a one-line error saying what to do."""
    if name != "cpu":
        raise NndlError(f"--device {name}: the numpy backend runs on the CPU only; use --backend torch for {name}")
    return name


def asarray(array, device="cpu"):
    """A NumPy array as this backend's array on `device`, with its dtype: here, a contiguous NumPy array."""
    resolve_device(device)
    return np.ascontiguousarray(array)
