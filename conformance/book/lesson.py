"""`nndl lesson`: one concept of the book across the three backends, read from their own source, with proof.

The code is read from each backend's files with `ast` (conformance.book.source: nothing is imported
to show it), by the names in conformance.book.lessons, and lined up by role (conformance.book.diff):
forward beside forward, the reference's hand-written backward beside the line that replaces it,
and within a row only the words that differ are marked. A definition a backend lacks is shown as
missing, with the sentence of its file that says why. The evidence is the lesson's own check, run
now through the backends that are installed (conformance.book.evidence).
"""

from __future__ import annotations

import ast
import datetime
import importlib.metadata
import platform
import re
import shutil
import textwrap
from dataclasses import dataclass

from conformance.backend.registry import BUILT_IN
from conformance.book import diff
from conformance.book.evidence import Evidence
from conformance.book.exercises import for_lesson
from conformance.book.lessons import ALIASES, CHAPTERS, CONCEPTS, Anchor, Concept, Helpers, find
from conformance.book.source import WHOLE_MODULE, Code, code_of, definitions, helpers_of, package_dir
from conformance.spec.errors import NndlError

SIDE_BY_SIDE_COLUMN = 44  # the narrowest column that code stays readable in; below it, one backend after another
GUTTER = " | "
ANSI = {"title": "\033[1m", "differs": "\033[33m", "missing": "\033[2m", "fail": "\033[31m", "end": "\033[0m"}


# -- lining the backends up ----------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One definition of a concept (or a set of helpers), in every backend, lined up by role."""

    title: str
    codes: tuple[Code, ...]
    rows: tuple[tuple[diff.Cell, ...], ...]
    absent: str = ""  # for helpers: what a backend without one does instead

    @property
    def marked(self) -> dict[str, int]:
        """How many cells are of each status ("differs", "same", "reworded", "blank", "empty")."""
        counts: dict[str, int] = {}
        for row in self.rows:
            for cell in row:
                counts[cell.status] = counts.get(cell.status, 0) + 1
        return counts


def backend_columns() -> list[tuple[str, str]]:
    """(backend name, package) for nndl's own backends, the reference first."""
    return list(BUILT_IN.items())


def part_of(module: str, name: str, anchors: tuple[Anchor, ...] = ()) -> Part:
    title = f"{module}.py" if name == WHOLE_MODULE else f"{module}.{name}"
    codes = tuple(code_of(backend, package, module, name) for backend, package in backend_columns())
    return _lined_up(title, codes, anchors)


def helpers_part(helpers: Helpers) -> Part:
    names = dict(helpers.names)
    codes = tuple(
        helpers_of(backend, package, helpers.module, names[backend]) if backend in names else None
        for backend, package in backend_columns()
    )
    shown = tuple(
        code or Code(backend, f"{package}/{helpers.module}.py", 0, "", helpers.absent)
        for code, (backend, package) in zip(codes, backend_columns())
    )
    return _lined_up(f"{helpers.module}: {helpers.title}", shown, (), dict(helpers.roles), helpers.absent)


def _lined_up(title: str, codes, anchors, roles: dict[str, str] | None = None, absent: str = "") -> Part:
    columns = [diff.read_lines(code.text, roles) if not code.missing else [] for code in codes]
    pinned = [_anchor_pairs(title, anchors, codes, columns, k) for k in range(1, len(codes))]
    shown = bool(columns[0])
    compared = sum(bool(lines) for lines in columns) > 1  # code in one column only is compared with nothing
    rows = tuple(
        diff.compare(row, shown) if compared else tuple(map(diff.Cell, row)) for row in diff.merge(columns, pinned)
    )
    return Part(title, codes, rows, absent)


def _anchor_pairs(title, anchors, codes, columns, k) -> list[tuple[int, int]]:
    """The (reference line, line of column k) pairs that the concept's anchors pin for this part."""
    pairs = []
    for anchor in anchors:
        texts = dict(anchor.lines)
        if anchor.part != title or codes[0].backend not in texts or codes[k].backend not in texts:
            continue
        i = _line_containing(columns[0], texts[codes[0].backend])
        j = _line_containing(columns[k], texts[codes[k].backend])
        if i is not None and j is not None:
            pairs.append((i, j))
    return pairs


def _line_containing(lines: list[diff.Line], text: str) -> int | None:
    return next((number for number, line in enumerate(lines) if text in line.text), None)


def parts_of(concept: Concept) -> list[Part]:
    parts = [part_of(module, name, concept.anchors) for module, name in concept.code]
    return parts + [helpers_part(helpers) for helpers in concept.helpers]


def lookup(name: str) -> Concept:
    """The concept `name` names (any case, or an alias), or one line that lists them."""
    concept = find(name)
    if concept is None:
        raise NndlError(f"no lesson named {name!r}; `nndl lesson` lists them: {', '.join(c.name for c in CONCEPTS)}")
    return concept


def lessons() -> list[Concept]:
    """Every lesson in the book's order, each with its name (`nndl lesson NAME`), title and code."""
    return list(CONCEPTS)


def neighbours(concept: Concept) -> tuple[Concept | None, Concept | None]:
    """The lessons before and after this one, in the book's order."""
    place = CONCEPTS.index(concept)
    return (CONCEPTS[place - 1] if place else None, CONCEPTS[place + 1] if place + 1 < len(CONCEPTS) else None)


def named_lessons(text: str) -> list[str]:
    """The lessons a text names in backticks (`streams`), in order, each once."""
    return list(dict.fromkeys(word for word in re.findall(r"`([^`]+)`", text) if word in ALIASES))


def mnist_loader(read):
    """A function that returns MNIST, calling `read()` the first time only (a lesson may not need it)."""
    loaded = []

    def load():
        if not loaded:
            loaded.append(read())
        return loaded[0]

    return load


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

BREAK_AFTER = " ,([{"  # a code line may be wrapped after these or before a '.', never inside a name or a number


def index_text() -> str:
    width = max(len(concept.name) for concept in CONCEPTS) + 2
    lines = ["nndl lesson CONCEPT: one concept of the book in the three backends, side by side, with proof"]
    for chapter, heading in CHAPTERS.items():
        lines += ["", heading]
        lines += [f"  {c.name:{width}s}{c.title}" for c in CONCEPTS if c.chapter == chapter]
    return "\n".join(lines)


def lesson_text(concept: Concept, evidence: Evidence | None, width: int | None = None, color: bool = False) -> str:
    """The lesson as the terminal shows it: columns side by side where `width` allows, else one after
    another; every line fits `width`, wrapped at word boundaries."""
    width = width or shutil.get_terminal_size().columns
    paint = _painter(color)
    before, after = neighbours(concept)
    lines = [paint("title", line) for line in _prose(f"{concept.name}: {concept.title}", width)] + [""]
    where = f"The book, ch. {concept.chapter}: {concept.book_link}" if concept.chapter else "Not in the book:"
    lines += _prose(where, width)
    lines += [wrapped for line in concept.equation.splitlines() for wrapped in _prose(line, width, "  ", "      ")]
    if concept.rules:
        lines += [""] + _prose(f"nndl's own rule: {concept.rules}.", width)
    lines += ["", "What to look for:"] + _prose(concept.look_for, width, "  ")
    for exercise in for_lesson(concept.name):
        lines += [""] + _prose(
            f"Write it yourself: {exercise.command()} ({exercise.title}), then nndl exercise check DIR", width
        )
    columns = len(backend_columns())
    column = (width - 2 - len(GUTTER) * (columns - 1)) // columns
    for part in parts_of(concept):
        lines += [""] + [paint("title", line) for line in _prose(part.title, width)]
        lines += (
            _side_by_side(part, column, paint)
            if column >= SIDE_BY_SIDE_COLUMN
            else _one_after_another(part, width, paint)
        )
        lines += [paint("missing", line) for line in _notes(part, width)]
    lines += ["", "Evidence, measured now:"] + _evidence_lines(evidence, width, paint)
    links = [f"previous: {before.name}" if before else "", f"next: {after.name}" if after else ""]
    lines += ["", "  ".join(link for link in links if link)]
    return "\n".join(lines)


def _prose(text: str, width: int, indent: str = "", following: str = "") -> list[str]:
    """Text wrapped at word boundaries to `width`; a word longer than that (a URL) stands alone, whole."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=following or indent or "  ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _painter(color: bool):
    def paint(kind: str, text: str) -> str:
        return f"{ANSI[kind]}{text}{ANSI['end']}" if color and text else text

    return paint


def _heading(code: Code) -> str:
    return f"{code.backend} ({code.path}:{code.line})" if code.line else f"{code.backend} ({code.path})"


def _notes(part: Part, width: int) -> list[str]:
    """Why a backend shows no code here, and what is left out of what it shows."""
    lines = []
    for code in part.codes:
        if code.missing:
            label = "no helper" if part.absent and code.missing == part.absent else "missing"
            lines += _prose(f"{code.backend}: {label}: {code.missing}", width, "  ")
        if code.left_out:
            lines += _prose(f"{code.backend}: left out: {', '.join(code.left_out)}", width, "  ")
    return lines


def wrapped(line: diff.Line | None, width: int) -> list[tuple[int, int, str]]:
    """A line cut into pieces of at most `width` characters at word boundaries: (start, end, lead),
    the lead being the indentation a continued piece is set with."""
    if line is None or not line.text.strip():
        return [(0, 0, "")]
    text = line.text.rstrip()
    indent = len(text) - len(text.lstrip())
    lead = " " * min(indent + 4, max(width // 2, 1))
    pieces, start = [], 0
    while start < len(text):
        room = width - (len(lead) if pieces else 0)
        end = len(text) if len(text) - start <= room else _break_point(text, start, start + room, line.kind)
        pieces.append((start, end, lead if pieces else ""))
        start = end
        while pieces and start < len(text) and text[start] == " ":
            start += 1
    return pieces


def _break_point(text: str, start: int, limit: int, kind: str) -> int:
    """The last place in text[start:limit] after a space or, in code, after an opening bracket or a comma,
    or before a '.' (between the names of an attribute chain); else `limit`, where a word must be cut."""
    for place in range(limit, start, -1):
        if text[place - 1] == " " or (kind == "code" and _code_break(text, place, start)):
            return place
    return limit


def _code_break(text: str, place: int, start: int) -> bool:
    return text[place - 1] in BREAK_AFTER or (text[place] == "." and place - start > 1)


def _painted(cell: diff.Cell, start: int, end: int, paint) -> str:
    """line.text[start:end] with the changed tokens painted (the whole piece for a line no other backend has)."""
    text = cell.line.text if cell.line else ""
    if cell.status == "differs" and not cell.changed:
        return paint("differs", text[start:end])
    out, at = [], start
    for token in sorted(cell.changed, key=lambda t: t.start):
        left, right = max(token.start, start), min(token.end, end)
        if left >= right:
            continue
        out += [text[at:left], paint("differs", text[left:right])]
        at = right
    return "".join(out) + text[at:end]


def _side_by_side(part: Part, column: int, paint) -> list[str]:
    """Rows of columns; '*' in the margin where code differs, long lines wrapped within their column."""
    lines = ["  " + GUTTER.join(_heading(code)[:column].ljust(column) for code in part.codes)]
    for row in part.rows:
        pieces = [wrapped(cell.line, column) for cell in row]
        differs = any(cell.status == "differs" for cell in row)
        for depth in range(max(len(piece) for piece in pieces)):
            texts = []
            for cell, piece in zip(row, pieces):
                if depth >= len(piece) or cell.line is None:
                    texts.append(" " * column)
                    continue
                start, end, lead = piece[depth]
                plain = lead + cell.line.text[start:end]
                texts.append(lead + _painted(cell, start, end, paint) + " " * (column - len(plain)))
            lines.append(("* " if differs and depth == 0 else "  ") + GUTTER.join(texts).rstrip())
    return lines


def _one_after_another(part: Part, width: int, paint) -> list[str]:
    """Each backend's code in turn; '*' marks a line whose code differs from the line it is compared with."""
    lines = []
    for k, code in enumerate(part.codes):
        if code.missing:
            continue
        lines.append(f"  {_heading(code)}")
        for row in part.rows:
            cell = row[k]
            if cell.line is None:
                continue
            marked = cell.status == "differs"
            for depth, (start, end, lead) in enumerate(wrapped(cell.line, width - 4)):
                margin = "  * " if marked and depth == 0 else "    "
                lines.append((margin + lead + _painted(cell, start, end, paint)).rstrip())
    return lines


def _evidence_lines(evidence: Evidence | None, width: int, paint) -> list[str]:
    if evidence is None:
        return ["  none run here: this concept has no check of its own"]
    lines = []
    for number, sentence in enumerate(evidence.sentences):
        text = f"FAILED: {sentence}" if not evidence.passed and number == 1 else sentence
        wrapped_lines = _prose(text, width, "  ")
        lines += [paint("fail", line) for line in wrapped_lines] if text.startswith("FAILED") else wrapped_lines
    lines += _prose(f"{', '.join(evidence.skipped)} (not installed, left out)", width, "  ") if evidence.skipped else []
    return lines + _prose(measured_with(), width, "  ")
