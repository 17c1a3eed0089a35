"""The registry of backends: nndl's own, those installed packages register, and modules named by path.

- nndl's own three are `BUILT_IN`.
- An installed package registers a backend through the entry-point group `nndl.backends`, one
  entry point per backend, naming its module: `my_backend = "my_backend"` (examples/my_backend).
- `--backends numpy,package.module` and `--backend package.module` name a module by its dotted path.

Every backend is checked against the contract (conformance/backend/contract.py) when it is loaded. One
whose framework is not installed is a BackendNotInstalledError, which `conform` and `bench` skip.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util

from conformance.backend.contract import check_backend
from conformance.spec.errors import BackendContractError, BackendNotInstalledError, NndlError

REFERENCE = "numpy"  # the backend every other one is compared with; it runs on the CPU
BUILT_IN = {"numpy": "reference", "torch": "torch_impl", "jax": "jax_impl"}  # backend name -> its package
# the distributions whose versions every record gives, installed or not (each built-in's FRAMEWORKS)
BUILT_IN_FRAMEWORKS = ("numpy", "torch", "jax", "jaxlib")
ENTRY_POINT_GROUP = "nndl.backends"


def registered() -> dict[str, str]:
    """Backend name -> module: nndl's own, then those of installed packages (a built-in name wins)."""
    modules = dict(BUILT_IN)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        modules.setdefault(entry_point.name, entry_point.value)
    return modules


def backend_names() -> list[str]:
    return list(registered())


def is_backend(name: str) -> bool:
    """Whether `name` is a registered backend or the dotted path of a module that exists (found, not imported)."""
    if name in registered():
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent package that does not exist; a name no module can have
        return False


def load_backend(name: str):
    """The backend registered as `name`, or the module whose dotted path `name` is, checked against the contract."""
    modules = registered()
    module = modules.get(name, name)
    try:
        backend = importlib.import_module(module)
    except ImportError as error:
        if name not in modules and _is_missing(module, error):
            choices = f"{', '.join(modules)}, or a backend module's dotted path"
            raise NndlError(f"unknown backend {name!r}; choose one of: {choices}") from None
        install = f"; install it with: pip install 'nndl[{name}]'" if name in BUILT_IN else ""
        raise BackendNotInstalledError(f"the {name} backend is not installed ({error}){install}") from None
    check_backend(backend, module)
    if name in modules and backend.NAME != name:
        raise BackendContractError(f"{module} is registered as the {name} backend, but its NAME is {backend.NAME!r}")
    return backend


def devices() -> list[str]:
    """Every device a registered backend runs on, from each one that loads (this imports their frameworks)."""
    found = {}
    for name in backend_names():
        try:
            found.update(dict.fromkeys(load_backend(name).DEVICES))
        except NndlError:  # not installed, or breaking the contract: it runs on nothing
            continue
    return list(found)


def _is_missing(module: str, error: ImportError) -> bool:
    """Whether the module itself (or a package above it) does not exist, rather than something it imports."""
    missing = error.name
    return missing is not None and (module == missing or module.startswith(missing + "."))
