"""The NumPy reference backend: every gradient written out by hand, BP1-BP4."""

from .train import Model, prepare_data, resolve_device

__all__ = ["Model", "prepare_data", "resolve_device"]
