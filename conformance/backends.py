"""Which backends exist, and importing one with an error that says what to install."""

from __future__ import annotations

import importlib

from .errors import BackendNotInstalledError, NndlError

# backend name -> (package, the extra that installs its framework)
BACKENDS = {"numpy": ("reference", None), "torch": ("torch_impl", "torch"), "jax": ("jax_impl", "jax")}


def backend_names() -> list[str]:
    return list(BACKENDS)


def load_backend(name: str):
    if name not in BACKENDS:
        raise NndlError(f"unknown backend {name!r}; choose one of: {', '.join(BACKENDS)}")
    package, extra = BACKENDS[name]
    try:
        return importlib.import_module(package)
    except ImportError as error:
        raise BackendNotInstalledError(
            f"the {name} backend is not installed ({error}); install it with: pip install 'nndl[{extra}]'"
        ) from None
