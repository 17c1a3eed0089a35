"""The lessons' code, read from each backend's own files with `ast`: nothing is imported to show it,
so a lesson needs no framework installed and cannot drift from the code that runs.

A definition a backend lacks comes back as missing, with the sentence of its file that says why.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

from conformance.backend.registry import BUILT_IN

WHOLE_MODULE = "*"  # a lesson part that shows a whole module, not one definition
# A comment that reports a measured speed: true, but not what a lesson teaches.
TIMING_NOTE = re.compile(r"\bfaster\b|\bslower\b|half the time|\d+(\.\d+)?% of|\d+(\.\d+)?x than|~?\d+(\.\d+)? ?m?s\)")


@dataclass(frozen=True)
class Code:
    """One backend's definition of one name: its source, or why there is none."""

    backend: str  # "numpy", "torch", "jax"
    path: str  # "reference/costs.py"
    line: int  # where the definition starts (0 when missing)
    text: str  # the source, dedented ("" when missing)
    missing: str = ""  # why the backend has no such definition
    left_out: tuple[str, ...] = ()  # what is not shown: "2 import lines", "1 timing note"


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
        return _shown(Code(backend, path, line, source))
    node = find_definition(tree, name)
    if node is None:
        return Code(backend, path, 0, "", missing_reason(tree, name))
    return _shown(Code(backend, path, node.lineno, source_of(lines, node)))


def helpers_of(backend: str, package: str, module: str, names: tuple[str, ...]) -> Code | None:
    """A backend's private definitions `names` of `module`, one after another; None if it has none of them."""
    found = [code_of(backend, package, module, name) for name in names]
    found = [code for code in found if not code.missing]
    if not found:
        return None
    text = "\n\n".join(code.text for code in found)
    return Code(backend, found[0].path, found[0].line, text, left_out=sum((code.left_out for code in found), ()))


def _shown(code: Code) -> Code:
    """The code without its import lines and its timing notes, and a count of each left out."""
    lines, imports, notes = code.text.splitlines(), 0, 0
    try:
        tree = ast.parse(code.text)
    except SyntaxError:
        return code
    dropped = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            dropped |= set(range(node.lineno - 1, node.end_lineno))
            imports += node.end_lineno - node.lineno + 1
    kept, block = [], []  # block: the comment lines running on before this line
    for number, line in enumerate([*lines, ""]):
        text, comment = _split_comment(line)
        if comment and not text.strip() and number not in dropped:
            block.append(line)
            continue
        if any(TIMING_NOTE.search(_split_comment(note)[1]) for note in block):
            notes += 1
        else:
            kept += block
        block = []
        if number in dropped or number == len(lines):
            continue
        if comment and TIMING_NOTE.search(comment):
            notes += 1
            line = text.rstrip()
        kept.append(line)
    while kept and not kept[0].strip():
        kept.pop(0)
    left_out = [f"{imports} import line{'s' * (imports != 1)}"] * bool(imports)
    left_out += [f"{notes} timing note{'s' * (notes != 1)}"] * bool(notes)
    return Code(code.backend, code.path, code.line, "\n".join(kept), left_out=tuple(left_out))


def _split_comment(line: str) -> tuple[str, str]:
    """(the line before its comment, the comment), for a line whose '#' is not inside a string."""
    quotes = ""
    for place, char in enumerate(line):
        if char in "\"'" and (not quotes or quotes == char):
            quotes = "" if quotes else char
        elif char == "#" and not quotes:
            return line[:place], line[place:]
    return line, ""


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
