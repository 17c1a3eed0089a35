"""The shape of the project: backends that line up file by file, and borders nothing crosses.

- Every backend has the reference's modules, and in each module the names the two share appear
  in the same order, so that `diff reference/costs.py torch_impl/costs.py` reads like a lesson.
- No backend imports another, and the backend-free part of conformance/ (all of it) imports no
  framework and no backend, and uses no private name of a backend: it knows the backends only
  through the contract (conformance/contract.py).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
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
FRAMEWORKS = {"torch", "jax", "jaxlib"}
BACKEND_FREE = [
    "runs",
    "spec",
    "streams",
    "data",
    "training",
    "checkpoint",
    "engine",
    "checks",
    "bench",
    "fastest",
    "cli",
    "contract",
    "backends",
    "matrix",
    "tolerances",
    "presets",
    "errors",
    "files",
    "report",
    "lesson",
    "lessons",
    "lesson_html",
    "ensemble",
    "reproduce",
    "explain",
    "layer_speeds",
    "environment",
]
NUMPY_ONLY = {
    # what the book's per-example algorithm needs exists in NumPy only (reference/baseline.py says why)
    "baseline": {"per_example_backprop", "per_example_gradients", "per_example_epoch"},
    # backprop through a conv layer, which autograd and jax.grad derive
    "convolution": {"weight_gradient", "input_gradient"},
}


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


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


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


@pytest.mark.parametrize("package", BACKEND_PACKAGES)
def test_no_backend_imports_another(package):
    others = set(BACKEND_PACKAGES) - {package}
    for path in (ROOT / package).glob("*.py"):
        assert not imported_roots(path) & others, f"{path.relative_to(ROOT)} imports another backend"


def test_the_reference_imports_no_framework():
    for path in (ROOT / "reference").glob("*.py"):
        assert not imported_roots(path) & FRAMEWORKS, path.name


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


def test_every_module_of_conformance_is_listed_as_backend_free():
    assert sorted(path.stem for path in (ROOT / "conformance").glob("*.py") if path.stem != "__init__") == sorted(
        BACKEND_FREE
    )


@pytest.mark.parametrize("module", BACKEND_FREE)
def test_the_conformance_modules_import_no_framework_and_no_backend(module):
    assert not imported_roots(ROOT / "conformance" / f"{module}.py") & (FRAMEWORKS | set(BACKEND_PACKAGES))


@pytest.mark.parametrize("module", BACKEND_FREE)
def test_the_conformance_modules_use_no_private_name_of_a_backend(module):
    assert not private_names_used((ROOT / "conformance" / f"{module}.py").read_text())


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


@pytest.mark.parametrize("module", sorted(set(BACKEND_FREE) - {"backends"}))
def test_the_conformance_modules_name_no_framework(module):
    """Only the registry names nndl's own backends (backends.BUILT_IN); the rest iterate over it."""
    assert not framework_words((ROOT / "conformance" / f"{module}.py").read_text())


def test_the_private_name_check_sees_what_checks_py_used_to_do():
    """`from reference.network import _forward` and `reference.network._inference` both count."""
    source = "from reference.network import _forward, cost\nzs = reference.network._inference(x)\nself._cache = 1\n"
    assert private_names_used(source) == {"_forward", "_inference"}
