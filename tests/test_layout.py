"""The shape of the project: backends that line up file by file, and borders nothing crosses.

- Every backend has the reference's modules, and in each module the names the two share appear
  in the same order, so that `diff reference/costs.py torch_impl/costs.py` reads like a lesson.
- The borders between packages are Import Linter's contracts, in pyproject.toml's
  [tool.importlinter]: conformance's wings are layers (cli > cluster > book > suite | speed > run > backend >
  data > spec), nothing in conformance imports a framework, a backend or the conformance package's
  own API, the reference imports no framework, and the backends are independent of each other.
  `lint-imports` must pass, and a deliberate violation in a copy of the code must make it fail.
- What Import Linter cannot see stays here: every module of conformance/ sits in a wing (three
  named top-level modules aside), no conformance module uses a private name of a backend, and none
  but the registry names a framework even in a string: it knows the backends only through the
  contract (conformance/backend/contract.py) and the registry (conformance/backend/registry.py).
"""

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "conformance"
BACKEND_PACKAGES = ["reference", "torch_impl", "jax_impl"]
REFERENCE_MODULES = [
    "activations",
    "costs",
    "regularizers",
    "device",
    "convolution",
    "pooling",
    "layers",
    "network",
    "train",
    "baseline",
    "perceptron",
]
NUMPY_ONLY = {
    # what the book's per-example algorithm needs exists in NumPy only (reference/baseline.py says why)
    "baseline": {"per_example_backprop", "per_example_gradients", "per_example_epoch"},
    # backprop through a conv layer, which autograd and jax.grad derive
    "convolution": {"weight_gradient", "input_gradient"},
}
# The only modules directly in conformance/, outside the wings, and why.
OUTSIDE_THE_WINGS = {
    "__init__": "the public Python API: it imports from the wings, so no module of conformance may import it",
    "contract": "a port-facing shim: re-exports conformance.backend.contract at the path outside backends import",
    "training": "a port-facing shim: re-exports conformance.run.training at the path outside backends import",
}
# The registry names nndl's own backends (BUILT_IN) and their frameworks; the rest iterate over it.
REGISTRY = CONFORMANCE / "backend" / "registry.py"


def conformance_modules() -> list[Path]:
    """Every .py file under conformance/, at any depth."""
    return sorted(path for path in CONFORMANCE.rglob("*.py") if "__pycache__" not in path.parts)


def module_id(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def importlinter_config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def layers_contract() -> dict:
    """The layers contract of conformance's wings, as pyproject.toml states it."""
    (contract,) = [
        contract
        for contract in importlinter_config()["contracts"]
        if contract["type"] == "layers" and contract.get("containers") == ["conformance"]
    ]
    return contract


def layer_names(layer: str) -> list[str]:
    """The modules of one layer: `suite | speed` holds two; `(name)` marks an optional one."""
    return [name.strip().strip("()") for name in re.split(r"[|:]", layer)]


def layered_modules() -> set[str]:
    """Every module the layers contract names, relative to conformance/: the wings and the shims."""
    return {name for layer in layers_contract()["layers"] for name in layer_names(layer)}


def wings() -> set[str]:
    return layered_modules() - set(OUTSIDE_THE_WINGS)


def written_backends():
    """The backend packages that have code beyond their __init__ (jax_impl comes in a later issue)."""
    return [name for name in BACKEND_PACKAGES[1:] if (ROOT / name / "network.py").exists()]


def public_definitions(path: Path) -> list[str]:
    """Top-level classes, functions and constants of a module, in the order they are defined."""
    names = []
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [name for name in names if not name.startswith("_")]


@pytest.mark.parametrize("backend", written_backends())
@pytest.mark.parametrize("module", REFERENCE_MODULES)
def test_backends_share_the_references_names_in_its_order(backend, module):
    reference_names = [
        name
        for name in public_definitions(ROOT / "reference" / f"{module}.py")
        if name not in NUMPY_ONLY.get(module, ())
    ]
    backend_names = public_definitions(ROOT / backend / f"{module}.py")
    missing = [name for name in reference_names if name not in backend_names]
    assert not missing, f"{backend}/{module}.py lacks {missing}"
    shared_in_backend_order = [name for name in backend_names if name in reference_names]
    assert shared_in_backend_order == reference_names


@pytest.mark.parametrize("backend", written_backends())
def test_the_classes_of_activations_costs_and_regularizers_line_up(backend):
    import importlib

    for module in ("activations", "costs", "regularizers"):
        ours, theirs = (importlib.import_module(f"{package}.{module}") for package in ("reference", backend))
        table = {"activations": "ACTIVATIONS", "costs": "COSTS", "regularizers": "REGULARIZERS"}[module]
        assert list(getattr(ours, table)) == list(getattr(theirs, table))
        for name, cls in getattr(theirs, table).items():
            assert cls.__name__ == getattr(ours, table)[name].__name__


# Import Linter: the contracts in pyproject.toml hold, and break when they should.


def lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """Run `lint-imports` in `cwd`, without its cache (which it would leave there), as the console
    script does: its entry point, run by this interpreter, so no PATH or script folder is assumed."""
    try:
        (script,) = importlib.metadata.entry_points(group="console_scripts", name="lint-imports")
    except ValueError:
        pytest.fail("Import Linter is not installed: pip install -e '.[dev]'")
    module, function = script.value.split(":")
    env = dict(os.environ, COLUMNS="400")  # one contract name, one line
    if pythonpath is not None:
        # first on sys.path, ahead of the editable install's finder (which Python consults last)
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [sys.executable, "-c", f"import sys; from {module} import {function}; sys.exit({function}())", "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=120,
    )


def output_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def flat(text: str) -> str:
    """Whitespace folded to single spaces, so that a contract name wrapped over lines still reads whole."""
    return " ".join(text.split())


def contract_name(contract_id: str) -> str:
    (contract,) = [contract for contract in importlinter_config()["contracts"] if contract.get("id") == contract_id]
    return contract["name"]


def test_lint_imports_passes():
    result = lint_imports(ROOT)
    assert result.returncode == 0, output_of(result)
    kept = len(importlinter_config()["contracts"])
    assert f"Contracts: {kept} kept, 0 broken." in output_of(result), output_of(result)


@pytest.fixture(scope="module")
def clean_copy(tmp_path_factory) -> Path:
    """conformance/, the backends and pyproject.toml, copied; lint-imports passes on the copy as it is."""
    copy = tmp_path_factory.mktemp("layout")
    for name in ["conformance", *BACKEND_PACKAGES]:
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy)
    result = lint_imports(copy, pythonpath=copy)
    assert result.returncode == 0, output_of(result)
    return copy


VIOLATIONS = {
    # file in the copy, line appended, the contract it breaks, what the report says
    "an upward import": (
        "conformance/spec/errors.py",
        "import conformance.cli  # upward",
        "wings",
        "conformance.spec.errors -> conformance.cli",
    ),
    "a wing importing a shim": (
        "conformance/book/reproduce.py",
        "from conformance.training import train  # a shim",
        "wings",
        "conformance.book.reproduce -> conformance.training",
    ),
    "a wing importing the package's API": (
        "conformance/run/resume.py",
        "from conformance import load_backend  # the public API",
        "no-api-inside",
        "conformance.run.resume -> conformance",
    ),
    "a new module outside the wings": ("conformance/stray.py", "STRAY = 1", "wings", "conformance.stray"),
    "conformance importing a framework": (
        "conformance/data/streams.py",
        "import torch  # a framework",
        "conformance-backend-free",
        "conformance.data.streams -> torch",
    ),
    "one backend importing another": (
        "torch_impl/costs.py",
        "import jax_impl.costs  # another backend",
        "backends-independent",
        "torch_impl.costs -> jax_impl.costs",
    ),
}


@pytest.mark.parametrize("violation", VIOLATIONS)
def test_a_deliberate_violation_in_a_copy_breaks_its_contract(clean_copy, tmp_path, violation):
    """The copy passes as it is (clean_copy); with one line added it fails, naming the contract.

    The line is only in the copy, and PYTHONPATH puts the copy ahead of the editable install, so
    the failure also shows that lint-imports analysed the copy, not the checkout.
    """
    path, line, contract_id, chain = VIOLATIONS[violation]
    copy = tmp_path / "copy"
    shutil.copytree(clean_copy, copy)
    with open(copy / path, "a") as file:
        file.write(f"\n{line}\n")
    result = lint_imports(copy, pythonpath=copy)
    report = flat(output_of(result))
    assert result.returncode != 0, output_of(result)
    assert f"{flat(contract_name(contract_id))} BROKEN" in report, output_of(result)
    assert chain in report, output_of(result)


def test_the_wings_of_the_contract_are_its_layers_less_the_shims_and_the_shims_sit_on_top():
    """A wing may import neither shim because both are in the top layer, beside the CLI."""
    top = layer_names(layers_contract()["layers"][0])
    assert "cli" in top
    assert set(OUTSIDE_THE_WINGS) - {"__init__"} <= set(top)


def test_every_module_of_conformance_sits_in_a_wing():
    strays = []
    for path in conformance_modules():
        parts = path.relative_to(CONFORMANCE).parts
        if len(parts) == 1:
            if path.stem not in OUTSIDE_THE_WINGS:
                strays.append(module_id(path))
        elif parts[0] not in wings():
            strays.append(module_id(path))
    assert not strays, f"not in a wing of the layers contract {sorted(wings())}: {strays}"
    for name in OUTSIDE_THE_WINGS:
        assert (CONFORMANCE / f"{name}.py").is_file(), (
            f"conformance/{name}.py is gone: take it out of OUTSIDE_THE_WINGS"
        )


def test_every_folder_of_conformance_holding_python_is_a_wing_and_a_package():
    folders = {path.parent for path in conformance_modules() if path.parent != CONFORMANCE}
    top_folders = {folder.relative_to(CONFORMANCE).parts[0] for folder in folders}
    assert top_folders == wings(), "the folders of conformance/ and the wings of the layers contract differ"
    # setuptools' packages.find ships packages only: a folder without __init__.py would be left out
    # of the wheel
    missing = sorted(module_id(folder) for folder in folders if not (folder / "__init__.py").is_file())
    assert not missing, f"folders without an __init__.py: {missing}"


# What Import Linter cannot see: private names and names in strings.


def private_names_used(source: str) -> set[str]:
    """Names starting with one underscore that the code imports from a backend package, or reads as
    an attribute of anything but self: what a backend keeps to itself."""
    used = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in BACKEND_PACKAGES:
            used |= {alias.name for alias in node.names}
        elif isinstance(node, ast.Attribute) and not (isinstance(node.value, ast.Name) and node.value.id == "self"):
            used.add(node.attr)
    return {name for name in used if name.startswith("_") and not name.startswith("__")}


@pytest.mark.parametrize("path", conformance_modules(), ids=module_id)
def test_the_conformance_modules_use_no_private_name_of_a_backend(path):
    assert not private_names_used(path.read_text())


def framework_words(source: str) -> list[str]:
    """Names and string constants (docstrings aside) that mention torch or jax."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and ast.get_docstring(node) is not None
    }
    words = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            words.append(node.value)
        elif isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
    return [word for word in words if "torch" in word.lower() or "jax" in word.lower()]


@pytest.mark.parametrize("path", [path for path in conformance_modules() if path != REGISTRY], ids=module_id)
def test_the_conformance_modules_name_no_framework(path):
    """Only the registry names nndl's own backends (registry.BUILT_IN); the rest iterate over it."""
    assert not framework_words(path.read_text())


def test_the_registry_is_where_the_built_in_backends_are_named():
    """The exemption above is for a file that exists and does name them."""
    assert {"torch_impl", "jax_impl"} <= {word for word in framework_words(REGISTRY.read_text())}


def test_the_private_name_check_sees_what_checks_py_used_to_do():
    """`from reference.network import _forward` and `reference.network._inference` both count."""
    source = "from reference.network import _forward, cost\nzs = reference.network._inference(x)\nself._cache = 1\n"
    assert private_names_used(source) == {"_forward", "_inference"}
