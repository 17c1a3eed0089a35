"""The lessons' code, read from each backend's own files with `ast`: nothing is imported to show it,
so a lesson needs no framework installed and cannot drift from the code that runs.

A definition a backend lacks comes back as missing, with the sentence of its file that says why.
"""

from __future__ import annotations

import ast
import importlib.util
import textwrap
from dataclasses import dataclass
from pathlib import Path

from conformance.backend.registry import BUILT_IN

WHOLE_MODULE = "*"  # a lesson part that shows a whole module, not one definition


@dataclass(frozen=True)
class Code:
    """One backend's definition of one name: its source, or why there is none."""

    backend: str  # "numpy", "torch", "jax"
    path: str  # "reference/costs.py"
    line: int  # where the definition starts (0 when missing)
    text: str  # the source, dedented ("" when missing)
    missing: str = ""  # why the backend has no such definition


def package_dir(package: str) -> Path | None:
    """Where a backend package's files are, found without importing it (nor its framework)."""
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    """A module's top-level classes, functions and assigned names, by name."""
    found = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            found.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def public_names(path: Path) -> list[str]:
    """The public top-level names a module defines, in order: what tests/test_lesson.py holds every lesson to."""
    return public_names_of(path.read_text())


def public_names_of(source: str) -> list[str]:
    return [name for name in definitions(ast.parse(source)) if not name.startswith("_")]


def find_definition(tree: ast.Module, name: str) -> ast.stmt | None:
    """The node defining `name` ("Class.method" for a method), or None."""
    owner, _, method = name.partition(".")
    node = definitions(tree).get(owner)
    if node is None or not method:
        return node
    if isinstance(node, ast.ClassDef):
        return next((item for item in node.body if getattr(item, "name", None) == method), None)
    return None


def source_of(lines: list[str], node: ast.stmt) -> str:
    """The node's source, decorators included, dedented."""
    start = min([node.lineno] + [decorator.lineno for decorator in getattr(node, "decorator_list", [])])
    return textwrap.dedent("\n".join(lines[start - 1 : node.end_lineno]))


def module_body(tree: ast.Module, lines: list[str]) -> tuple[int, str]:
    """A whole module after its docstring: (first line, source)."""
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    if not body:
        return 0, ""
    return body[0].lineno, "\n".join(lines[body[0].lineno - 1 :]).rstrip()


def code_of(backend: str, package: str, module: str, name: str) -> Code:
    """What `package`/`module`.py defines as `name`, or why it has no such definition."""
    directory = package_dir(package)
    path = f"{package}/{module}.py"
    if directory is None:
        return Code(backend, path, 0, "", f"no {package} package is installed to read the code from")
    file = directory / f"{module}.py"
    if not file.is_file():
        return Code(backend, path, 0, "", missing_module_reason(package, module))
    text = file.read_text()
    tree, lines = ast.parse(text), text.splitlines()
    if name == WHOLE_MODULE:
        line, source = module_body(tree, lines)
        return Code(backend, path, line, source)
    node = find_definition(tree, name)
    if node is None:
        return Code(backend, path, 0, "", missing_reason(tree, name))
    return Code(backend, path, node.lineno, source_of(lines, node))


def sentences(docstring: str | None) -> list[str]:
    text = " ".join((docstring or "").split())
    return [sentence.strip() for sentence in text.replace(". ", ".\n").splitlines() if sentence.strip()]


def missing_reason(tree: ast.Module, name: str) -> str:
    """The sentence of the module's docstring (or its class's) that names the missing definition in backticks."""
    owner, _, method = name.partition(".")
    docstrings = [ast.get_docstring(tree)]
    if method and isinstance(definitions(tree).get(owner), ast.ClassDef):
        docstrings.insert(0, ast.get_docstring(definitions(tree)[owner]))
    wanted = {f"`{name}`", f"`{method or owner}`"}
    for docstring in docstrings:
        for sentence in sentences(docstring):
            if any(word in sentence for word in wanted):
                return sentence
    return f"not defined here, and the file does not say why ({name})"


def missing_module_reason(package: str, module: str) -> str:
    """The sentence of another backend's same module that says why `package` has no such file."""
    for other in BUILT_IN.values():
        directory = package_dir(other)
        file = directory / f"{module}.py" if directory else None
        if other == package or file is None or not file.is_file():
            continue
        for sentence in sentences(ast.get_docstring(ast.parse(file.read_text()))):
            if package in sentence and " no " in sentence:
                return sentence.strip("()")
    return f"there is no {package}/{module}.py, and no file says why"
