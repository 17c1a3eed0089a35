"""The NumPy reference backend: every gradient written out by hand, BP1-BP4.

Its module-level names are the backend contract (conformance/backend/contract.py).
"""

from . import conv_slips, perceptron, ties
from .baseline import bench_rows, synchronize
from .device import asarray, resolve_device, threads
from .train import Model

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
    "asarray",
    "bench_rows",
    "conv_slips",
    "perceptron",
    "resolve_device",
    "synchronize",
    "threads",
    "ties",
]
