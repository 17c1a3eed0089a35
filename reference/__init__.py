"""The NumPy reference backend: every gradient written out by hand, BP1-BP4.

Its module-level names are the backend contract (conformance/contract.py).
"""

from .baseline import bench_rows, synchronize
from .train import Model, prepare_data, resolve_device

NAME = "numpy"
FRAMEWORKS = ("numpy",)
DEVICES = ("cpu",)
COMPILES = False

__all__ = [
    "COMPILES",
    "DEVICES",
    "FRAMEWORKS",
    "NAME",
    "Model",
    "bench_rows",
    "prepare_data",
    "resolve_device",
    "synchronize",
]
