"""`nndl lesson`: one concept of the book across the three backends, read from their own source, with proof.

The code is read from each backend's files with `ast` (conformance.book.source: nothing is imported
to show it), by the names in conformance.book.lessons, and lined up row by row against the
reference's with difflib: what the backends share sits on one row, and a row where they differ is
marked. A definition a backend lacks is shown as missing, with the sentence of its file that says
why. The evidence is the concept's conformance check, run now through the backends that are
installed.
"""

from __future__ import annotations

import ast
import datetime
import difflib
import importlib.metadata
import math
import platform
import shutil
from dataclasses import dataclass

from conformance.backend.registry import BUILT_IN
from conformance.book.lessons import BY_NAME, CONCEPTS, Concept, Contract, Gradients, PerceptronOutputs
from conformance.book.source import WHOLE_MODULE, Code, code_of, definitions, package_dir
from conformance.spec.errors import NndlError
from conformance.suite.engine import available_backends
from conformance.suite.gradients import check_gradients
from conformance.suite.matrix import PERCEPTRONS
from conformance.suite.perceptrons import PERCEPTRON_OUTPUTS, check_perceptrons
from conformance.suite.trajectories import check_trajectory

SIDE_BY_SIDE_COLUMN = 44  # the narrowest column that code stays readable in; below it, one backend after another
GUTTER = " | "
ANSI = {"title": "\033[1m", "differs": "\033[33m", "missing": "\033[2m", "fail": "\033[31m", "end": "\033[0m"}


# -- lining the backends up ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    cells: tuple[str | None, ...]  # one per backend; None where that backend has no line here

    @property
    def marks(self) -> tuple[bool, ...]:
        """Per cell, whether it differs: another backend's line from the reference's, the reference's
        line from any other's."""
        others = [cell != self.cells[0] for cell in self.cells[1:]]
        return (any(others), *others)

    @property
    def differs(self) -> bool:
        return any(self.marks)


SIMILAR = 0.6  # difflib's ratio above which two lines that differ are still set beside each other


def align(reference: list[str], others: list[list[str]]) -> list[Row]:
    """Rows of lines, the reference's in order, each other backend's line beside the reference line it
    matches (difflib), or on a row of its own where it has no counterpart."""
    n = len(reference)
    before = [[[] for _ in range(n + 1)] for _ in others]  # lines a backend has before reference line i
    beside = [[None] * n for _ in others]
    for k, lines in enumerate(others):
        following, unpaired = n, []  # the reference line that comes next, walking backwards
        for i, j in reversed(matched_lines(reference, lines)):
            if i is None:
                unpaired.append((following, lines[j]))
                continue
            following = i
            if j is not None:
                beside[k][i] = lines[j]
        for i, line in reversed(unpaired):
            before[k][i].append(line)
    rows = []
    for i in range(n + 1):
        for extra in range(max(len(inserted[i]) for inserted in before) if others else 0):
            rows.append(Row((None, *(inserted[i][extra] if extra < len(inserted[i]) else None for inserted in before))))
        if i < n:
            rows.append(Row((reference[i], *(column[i] for column in beside))))
    return rows


def matched_lines(reference: list[str], lines: list[str]) -> list[tuple[int | None, int | None]]:
    """(reference line, other line) in order, None where one side has no counterpart; an unpaired other
    line comes as (None, j) just before the reference line it precedes.

    Equal runs (difflib's opcodes) pair line by line. Inside a run that differs, the most similar
    lines are paired first (`similar_pairs`), and the lines left between two pairs are set side by
    side from the top, the longer side's surplus on rows of its own.
    """
    matched = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, reference, lines, autojunk=False).get_opcodes():
        if tag == "equal":
            matched += [(i1 + d, j1 + d) for d in range(i2 - i1)]
            continue
        anchors = similar_pairs(reference[i1:i2], lines[j1:j2]) + [(i2 - i1, j2 - j1)]
        i, j = 0, 0
        for anchor_i, anchor_j in anchors:
            side_by_side = min(anchor_i - i, anchor_j - j)
            matched += [(i1 + i + d, j1 + j + d) for d in range(side_by_side)]
            matched += [(i1 + i + d, None) for d in range(side_by_side, anchor_i - i)]
            matched += [(None, j1 + j + d) for d in range(side_by_side, anchor_j - j)]
            if anchor_i < i2 - i1:
                matched.append((i1 + anchor_i, j1 + anchor_j))
            i, j = anchor_i + 1, anchor_j + 1
    return matched


def similar_pairs(a: list[str], b: list[str]) -> list[tuple[int, int]]:
    """The pairs (i, j), increasing in both, of lines at least SIMILAR alike with the greatest total likeness."""
    score = [[0.0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            ratio = difflib.SequenceMatcher(None, a[i], b[j], autojunk=False).ratio()
            paired = score[i + 1][j + 1] + ratio if ratio >= SIMILAR else -1.0
            score[i][j] = max(paired, score[i + 1][j], score[i][j + 1])
    pairs, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if score[i][j] == score[i + 1][j]:
            i += 1
        elif score[i][j] == score[i][j + 1]:
            j += 1
        else:
            pairs.append((i, j))
            i, j = i + 1, j + 1
    return pairs


@dataclass(frozen=True)
class Part:
    """One definition of a concept, in every backend, lined up."""

    module: str
    name: str
    codes: tuple[Code, ...]
    rows: tuple[Row, ...]

    @property
    def title(self) -> str:
        return f"{self.module}.py" if self.name == WHOLE_MODULE else f"{self.module}.{self.name}"


def backend_columns() -> list[tuple[str, str]]:
    """(backend name, package) for nndl's own backends, the reference first."""
    return list(BUILT_IN.items())


def part_of(module: str, name: str) -> Part:
    codes = tuple(code_of(backend, package, module, name) for backend, package in backend_columns())
    present = [code.text.splitlines() if not code.missing else [] for code in codes]
    return Part(module, name, codes, tuple(align(present[0], present[1:])))


def parts_of(concept: Concept) -> list[Part]:
    return [part_of(module, name) for module, name in concept.code]


def lookup(name: str) -> Concept:
    if name not in BY_NAME:
        raise NndlError(f"no lesson named {name!r}; `nndl lesson` lists them: {', '.join(BY_NAME)}")
    return BY_NAME[name]


def lessons() -> list[Concept]:
    """Every lesson in the book's order, each with its name (`nndl lesson NAME`), title and code."""
    return list(CONCEPTS)


# -- the evidence ---------------------------------------------------------------------------------


def mnist_loader(read):
    """A function that returns MNIST, calling `read()` the first time only (a lesson may not need it)."""
    loaded = []

    def load():
        if not loaded:
            loaded.append(read())
        return loaded[0]

    return load


@dataclass(frozen=True)
class Evidence:
    line: str  # what was measured, and the figures
    passed: bool
    skipped: tuple[str, ...] = ()  # backends not installed, with why


def measure(concept: Concept, mnist, seed: int = 0) -> Evidence | None:
    """Run the concept's conformance check now, in every installed backend; None if it has none.
    `mnist()` gives MNIST (see mnist_loader), and is called only by the checks that need it."""
    if concept.evidence is None:
        return None
    backends, skipped = available_backends(list(BUILT_IN), log=lambda message: None)
    skipped_lines = tuple(f"{name}: {why}" for name, why in skipped.items())
    evidence = concept.evidence
    if isinstance(evidence, Contract):  # load_backend has checked each one: a backend that breaks it is an error
        return Evidence(f"backend contract: {', '.join(backends)} load and satisfy it", True, skipped_lines)
    if isinstance(evidence, PerceptronOutputs):
        results = check_perceptrons(PERCEPTRONS, backends)
        what = "output bits that differ, NAND gate and adder on all four pairs of bits"
    elif isinstance(evidence, Gradients):
        case = evidence.case
        results = check_gradients(case, backends, mnist().training, "cpu", seed)
        what = f"gradient of the mean cost on MNIST's first mini-batch (seed {seed}), {case.name.removeprefix('grad ')}"
    else:
        case = evidence.case
        data = mnist()
        splits = {"training": data.training, "validation": data.validation, "test": data.test}
        results = check_trajectory(case, backends, splits, "cpu", evidence.steps, False, seed)
        what = f"parameters after each of the first {evidence.steps} SGD steps on MNIST (seed {seed}), {case.name}"
    return Evidence(evidence_line(what, results), all(result.passed for result in results), skipped_lines)


def evidence_line(what: str, results) -> str:
    """ "what: worst difference between the backends X (bound B); pair value, ...": the figures of the results."""
    between = [r for r in results if not r.not_applicable and r.pair.split(" vs ")[-1] in BUILT_IN]
    counted = all(r.check == PERCEPTRON_OUTPUTS for r in results)
    shown = [f"{r.pair} {_figure(r.value, counted)}{'' if r.passed else ' FAIL'}" for r in results]
    if not between:
        return f"{what}: {', '.join(shown)}"
    worst = max(between, key=lambda r: r.value)
    return (
        f"{what}: worst difference between the backends {_figure(worst.value, counted)} "
        f"(bound {_figure(worst.bound, counted)}); {', '.join(shown)}"
    )


def _figure(value: float, counted: bool) -> str:
    return f"{int(value)}" if counted and math.isfinite(value) else f"{value:.1e}"


def measured_with() -> str:
    """The date and the versions the evidence was measured with."""
    versions = [f"python {platform.python_version()}"]
    for name in ("numpy", *_framework_names()):
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    today = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"measured {today} with {', '.join(versions)}"


def _framework_names() -> list[str]:
    """The distributions nndl's own backends name as their FRAMEWORKS, read from their __init__.py."""
    names = []
    for _, package in backend_columns():
        directory = package_dir(package)
        if directory is None:
            continue
        node = definitions(ast.parse((directory / "__init__.py").read_text())).get("FRAMEWORKS")
        if isinstance(node, ast.Assign):
            names += [name for name in ast.literal_eval(node.value) if name != "numpy"]
    return list(dict.fromkeys(names))


# -- the terminal -------------------------------------------------------------------------------


def index_text() -> str:
    width = max(len(concept.name) for concept in CONCEPTS) + 2
    lines = ["nndl lesson CONCEPT: one concept of the book in the three backends, side by side, with proof", ""]
    lines += [f"  {concept.name:{width}s}{concept.title}" for concept in CONCEPTS]
    return "\n".join(lines)


def lesson_text(concept: Concept, evidence: Evidence | None, width: int | None = None, color: bool = False) -> str:
    """The lesson as the terminal shows it: columns side by side where `width` allows, else one after another."""
    width = width or shutil.get_terminal_size().columns
    paint = _painter(color)
    lines = [paint("title", f"{concept.name}: {concept.title}"), "", "The book:"]
    lines += [f"  {line}" for line in concept.equation.splitlines()]
    if concept.note:
        lines += ["", concept.note]
    columns = len(backend_columns())
    column = (width - 2 - len(GUTTER) * (columns - 1)) // columns
    for part in parts_of(concept):
        lines += ["", paint("title", part.title)]
        lines += (
            _side_by_side(part, column, paint) if column >= SIDE_BY_SIDE_COLUMN else _one_after_another(part, paint)
        )
    lines += ["", "Evidence, measured now:"] + _evidence_lines(evidence, paint)
    return "\n".join(lines)


def _painter(color: bool):
    def paint(kind: str, text: str) -> str:
        return f"{ANSI[kind]}{text}{ANSI['end']}" if color and text else text

    return paint


def _heading(code: Code) -> str:
    return f"{code.backend} ({code.path}:{code.line})" if not code.missing else f"{code.backend} ({code.path})"


def _side_by_side(part: Part, column: int, paint) -> list[str]:
    """Rows of columns; '*' in the margin where the backends differ, long lines wrapped within their column."""
    lines = ["  " + GUTTER.join(_heading(code)[:column].ljust(column) for code in part.codes)]
    missing = [f"  {code.backend}: missing: {code.missing}" for code in part.codes if code.missing]
    for row in part.rows:
        pieces = [
            [cell[at : at + column] for at in range(0, len(cell), column)] or [""] if cell else [""]
            for cell in row.cells
        ]
        for depth in range(max(len(piece) for piece in pieces)):
            texts = [piece[depth].ljust(column) if depth < len(piece) else " " * column for piece in pieces]
            texts = [paint("differs", text) if marked else text for text, marked in zip(texts, row.marks)]
            lines.append(("* " if row.differs and depth == 0 else "  ") + GUTTER.join(texts).rstrip())
    return lines + [paint("missing", line) for line in missing]


def _one_after_another(part: Part, paint) -> list[str]:
    """Each backend's code in turn; '*' marks a line that differs from the other backends' line beside it."""
    lines = []
    for k, code in enumerate(part.codes):
        lines.append(f"  {_heading(code)}")
        if code.missing:
            lines.append(paint("missing", f"    missing: {code.missing}"))
            continue
        for row in part.rows:
            if row.cells[k] is not None:
                marked = row.marks[k]
                lines.append(
                    ("  * " if marked else "    ") + (paint("differs", row.cells[k]) if marked else row.cells[k])
                )
    return lines


def _evidence_lines(evidence: Evidence | None, paint) -> list[str]:
    if evidence is None:
        return ["  none run here: this concept has no conformance check of its own"]
    lines = [f"  {evidence.line}" if evidence.passed else paint("fail", f"  FAILED: {evidence.line}")]
    lines += [f"  {line} (not installed, left out)" for line in evidence.skipped]
    return lines + [f"  {measured_with()}"]
