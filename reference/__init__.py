"""The NumPy reference backend: every gradient written out by hand, BP1-BP4."""

from .device import asarray, resolve_device
from .train import Model

__all__ = ["Model", "asarray", "resolve_device"]
