"""The registry of backends: nndl's own, those installed packages register, and modules named by path.

- nndl's own three are `BUILT_IN`.
- An installed package registers a backend through the entry-point group `nndl.backends`, one
  entry point per backend, naming its module: `my_backend = "my_backend"` (examples/my_backend).
- `--backends numpy,package.module` and `--backend package.module` name a module by its dotted path.

Every backend is checked against the contract (conformance/backend/contract.py) when it is loaded,
and seen through its defaults for the optional names it leaves out. One of nndl's own whose framework
is not installed is a BackendNotInstalledError, which `conform` and `bench` skip unless it was named;
any other module that cannot be imported is a BackendImportError naming it and its import error.
A backend's NAME is one word of its own: the built-ins' names and the report's own words are reserved.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re

from conformance.backend.contract import check_backend, with_defaults
from conformance.spec.errors import (
    BackendContractError,
    BackendImportError,
    BackendNotInstalledError,
    NndlError,
    one_line,
)

REFERENCE = "numpy"  # the backend every other one is compared with; it runs on the CPU
BUILT_IN = {"numpy": "reference", "torch": "torch_impl", "jax": "jax_impl"}  # backend name -> its package
# the distributions whose versions every record gives, installed or not (each built-in's FRAMEWORKS)
BUILT_IN_FRAMEWORKS = ("numpy", "torch", "jax", "jaxlib")
ENTRY_POINT_GROUP = "nndl.backends"
# words a backend's NAME may not be: the report's own columns ("numpy vs finite differences", "... truth table")
RESERVED_WORDS = ("finite", "differences", "truth", "table", "ensemble", "alone", "vs")
NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")  # one word: it names a column of the report


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
    """The backend registered as `name`, or the module whose dotted path `name` is, checked against the
    contract and seen through the defaults of the optional names it leaves out."""
    modules = registered()
    module = modules.get(name, name)
    try:
        backend = importlib.import_module(module)
    except ImportError as error:
        if name not in modules and _is_missing(module, error):
            choices = f"{', '.join(modules)}, or a backend module's dotted path"
            raise NndlError(f"unknown backend {name!r}; choose one of: {choices}") from None
        if name in BUILT_IN:
            install = f"install it with: pip install 'nndl[{name}]'"
            raise BackendNotInstalledError(f"the {name} backend is not installed ({error}); {install}") from None
        raise BackendImportError(f"the backend {name!r} cannot be imported: {one_line(error)}") from None
    except Exception as error:  # noqa: BLE001 (a port's module that fails as it loads: a SyntaxError, a NameError, ...
        raise BackendImportError(f"the backend {name!r} cannot be imported: {one_line(error)}") from None
    check_backend(backend, module)
    _check_name(backend.NAME, name, module, modules)
    return with_defaults(backend)


def _check_name(own: str, name: str, module: str, modules: dict[str, str]) -> None:
    """Refuse a NAME that is not one word, that a built-in backend has, or that differs from its registration."""
    if not isinstance(own, str) or not NAME_PATTERN.fullmatch(own) or own.lower() in RESERVED_WORDS:
        raise BackendContractError(
            f"{module}'s NAME {own!r} cannot name a backend: give it one word of its own (letters, digits, _ . -), "
            f"not one of {', '.join(RESERVED_WORDS)}"
        )
    if own in BUILT_IN and module != BUILT_IN[own]:
        raise BackendContractError(
            f"{module}'s NAME {own!r} is reserved for nndl's own {own} backend ({BUILT_IN[own]}): "
            "give the port a name of its own"
        )
    if name in modules and own != name:
        raise BackendContractError(f"{module} is registered as the {name} backend, but its NAME is {own!r}")


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
