"""The JAX backend: pure functions of a parameter pytree, gradients from jax.grad, an epoch in one jit.

JAX computes in float32 unless its x64 mode is on, and then quietly turns a float64 request into
float32. Conformance runs in float64, so importing jax_impl turns x64 mode on, here, for the
whole process: arrays JAX makes without an explicit dtype are then float64, so every array this
backend makes names its dtype, and a float32 spec stays float32. device.jax_dtype refuses float64
if anything turns x64 off again.

Its module-level names are the backend contract (conformance/backend/contract.py).
"""

import os

import jax

jax.config.update("jax_enable_x64", True)  # before the imports below, so before any array is made

_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
try:  # one CPU device per core, so that an Ensemble's groups of members run side by side (train.py)
    jax.config.update("jax_num_cpu_devices", _cores)
except RuntimeError:  # JAX ran before jax_impl was imported: its devices stay as they are
    pass

from . import perceptron
from .baseline import bench_rows, synchronize
from .device import asarray, resolve_device, threads
from .streams import NativeStreams
from .train import Ensemble, Model

NAME = "jax"
FRAMEWORKS = ("jax", "jaxlib")
DEVICES = ("cpu", "cuda")
COMPILES = True  # an epoch is one jitted lax.scan, compiled on its first call

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
