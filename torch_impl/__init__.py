"""The PyTorch backend: the network as torch.nn.Modules, every gradient from autograd.

Its module-level names are the backend contract (conformance/backend/contract.py).
"""

from . import perceptron
from .baseline import bench_rows, synchronize
from .device import asarray, resolve_device, threads
from .streams import NativeStreams
from .train import Ensemble, Model

NAME = "torch"
FRAMEWORKS = ("torch",)
DEVICES = ("cpu", "cuda", "mps")
COMPILES = False

__all__ = [
    "COMPILES",
    "DEVICES",
    "FRAMEWORKS",
    "NAME",
    "Ensemble",
    "Model",
    "NativeStreams",
    "asarray",
    "bench_rows",
    "perceptron",
    "resolve_device",
    "synchronize",
    "threads",
]
