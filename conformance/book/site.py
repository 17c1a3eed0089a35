"""`nndl lesson --html DIR`: the lessons as a static site, one page per concept and an index.

Each page shows the book's equation as MathML (browsers render it natively: no script, no
network), a link to the book's section, nndl's own rules apart from the book's, what to look for,
the three backends' code in three columns lined up by role and highlighted by pygments, with the
words that differ marked, and the evidence with the date and versions it was measured with. The
index groups the lessons by chapter in the book's order and has a search box (a few lines of
inline script); every page links to the previous and next lesson. Every link within the site is
relative, so it works opened from disk; the only links out are to the book's own pages.
"""

from __future__ import annotations

import itertools
from html import escape
from pathlib import Path

from conformance.book.diff import Cell
from conformance.book.evidence import Evidence
from conformance.book.exercises import for_lesson
from conformance.book.lesson import Part, backend_columns, measured_with, named_lessons, neighbours, parts_of
from conformance.book.lessons import ALIASES, CHAPTERS, Concept
from conformance.spec.errors import NndlError
from conformance.spec.files import write_atomically

CODE_FONT_PX = 14  # the code's size; the browser test holds it at 13 px or more

STYLE = f"""
body {{ font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 110em; padding: 0 1em; color: #222;
  line-height: 1.45; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.1em; margin-top: 1.8em; }} h2 code {{ font-size: 1em; }}
nav {{ display: flex; gap: 2em; font-size: 0.95em; }}
.equation {{ background: #f6f6f0; padding: 0.5em 1em; border-left: 4px solid #bba; }}
.equation math {{ font-size: 1.3em; margin: 0.4em 0; }}
math mo.large {{ font-size: 1.5em; }}
.rules {{ background: #eef2fa; padding: 0.4em 1em; border-left: 4px solid #88a; }}
.exercise {{ background: #f2f8ee; padding: 0.4em 1em; border-left: 4px solid #8a8; margin-top: 0.6em; }}
.exercise ul {{ margin: 0.3em 0; }}
.look {{ max-width: 60em; }}
code {{ font-family: monospace, monospace; font-size: 0.9em; }}
table.code {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
table.code th {{ text-align: left; font-weight: normal; font-family: monospace; background: #eee; padding: 0.3em;
  font-size: {CODE_FONT_PX}px; }}
table.code td {{ font-family: monospace, monospace; font-size: {CODE_FONT_PX}px; white-space: pre-wrap; vertical-align: top;
  padding: 0 0.4em 0 4.4ch; text-indent: -4ch; border-left: 1px solid #ddd; overflow-wrap: anywhere; }}
table.code td.blank {{ height: 1.2em; }}
table.code td.differs {{ border-left: 3px solid #e0b000; }}
table.code mark {{ background: #ffe48a; color: inherit; }}
table.code mark.prose {{ background: #eee8d0; }}
table.code td.missing {{ color: #555; font-style: italic; font-family: system-ui, sans-serif; font-size: 0.95em; }}
.left-out {{ color: #666; font-size: 0.9em; }}
.evidence {{ background: #eef6ee; padding: 0.5em 1em; border-left: 4px solid #6a6; }}
.evidence.failed {{ background: #fbeaea; border-left-color: #c44; }}
.measured {{ color: #555; font-size: 0.9em; }}
#search {{ font-size: 1em; padding: 0.3em; width: 25em; }}
"""

# The index's search box: hides the lessons whose name and title do not hold every word typed.
SEARCH = """
document.getElementById("search").addEventListener("input", (event) => {
  const words = event.target.value.toLowerCase().split(/\\s+/).filter(Boolean);
  for (const item of document.querySelectorAll("li.lesson")) {
    item.hidden = !words.every((word) => item.textContent.toLowerCase().includes(word));
  }
});
"""


def _formatter():
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        raise NndlError("nndl lesson --html needs pygments; install it with: pip install 'nndl[lesson]'") from None
    return HtmlFormatter(nowrap=True)


def highlighted(text: str) -> list[list[tuple[str, int, int]]]:
    """Per source line, its pieces as (pygments' CSS class, start column, end column)."""
    from pygments.lexers import PythonLexer
    from pygments.token import STANDARD_TYPES

    lines: list[list[tuple[str, int, int]]] = [[]]
    column = 0
    for kind, value in PythonLexer(stripnl=False, ensurenl=False).get_tokens(text):
        while kind not in STANDARD_TYPES:
            kind = kind.parent
        for number, piece in enumerate(value.split("\n")):
            if number:
                lines.append([])
                column = 0
            if piece:
                lines[-1].append((STANDARD_TYPES[kind], column, column + len(piece)))
                column += len(piece)
    return lines


def cell_html(cell: Cell, pieces: list[tuple[str, int, int]]) -> str:
    """A line highlighted by pygments, the tokens that differ inside <mark> (prose ones lighter)."""
    text = cell.line.text
    marks = [(t.start, t.end, "") for t in cell.changed] + [(t.start, t.end, "prose") for t in cell.reworded]
    bounds = [(start, end) for _, start, end in pieces] + [(start, end) for start, end, _ in marks]
    cuts = sorted({0, len(text), *(place for bound in bounds for place in bound)})
    out = []
    for start, end in itertools.pairwise(cuts):
        css = next((css for css, a, b in pieces if a <= start and end <= b), "")
        mark = next((kind for a, b, kind in marks if a <= start and end <= b), None)
        html = escape(text[start:end])
        html = f'<span class="{css}">{html}</span>' if css else html
        out.append(html if mark is None else f'<mark class="{mark or "code"}">{html}</mark>')
    return "".join(out)


def part_table(part: Part) -> str:
    """Three columns, a row per aligned line; a cell's class is its status (differs, same, ...)."""
    heads = "".join(
        f'<th class="backend {code.backend}">{escape(code.backend)} <small>{escape(code.path)}'
        f"{f':{code.line}' if code.line else ''}</small></th>"
        for code in part.codes
    )
    pieces = [highlighted(code.text) if not code.missing else [] for code in part.codes]
    taken = [0] * len(part.codes)
    body = []
    for number, row in enumerate(part.rows):
        cells = []
        for k, cell in enumerate(row):
            code = part.codes[k]
            if code.missing:
                if number == 0:
                    label = "no helper" if part.absent and code.missing == part.absent else "missing"
                    cells.append(
                        f'<td class="missing" rowspan="{max(len(part.rows), 1)}">{label}: {_words(code.missing)}</td>'
                    )
                continue
            html = ""
            if cell.line is not None:
                html, taken[k] = cell_html(cell, pieces[k][taken[k]]), taken[k] + 1
            cells.append(f'<td class="{cell.status}">{html}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    left_out = "; ".join(f"{code.backend}: {', '.join(code.left_out)}" for code in part.codes if code.left_out)
    note = f'<p class="left-out">left out: {escape(left_out)}</p>' if left_out else ""
    return f'<table class="code"><thead><tr>{heads}</tr></thead><tbody>{"".join(body)}</tbody></table>{note}'


def _words(text: str, written: set[str] | frozenset = frozenset()) -> str:
    """Prose with `names` as code, and a name that is a lesson of this site (`written`) linked to its page."""
    out = []
    for number, piece in enumerate(escape(text).split("`")):
        if number % 2 == 0:
            out.append(piece)
        elif piece in ALIASES and ALIASES[piece].name in written:
            out.append(f'<a href="{ALIASES[piece].name}.html"><code>{piece}</code></a>')
        else:
            out.append(f"<code>{piece}</code>")
    return "".join(out)


def evidence_html(evidence: Evidence | None, measured: str) -> str:
    if evidence is None:
        return '<div class="evidence">No check of its own: nothing was measured for this concept.</div>'
    skipped = "".join(f"<br>{escape(line)} (not installed, left out)" for line in evidence.skipped)
    state = "" if evidence.passed else " failed"
    verdict = "" if evidence.passed else "<strong>FAILED:</strong> "
    sentences = "".join(f"<p>{escape(sentence)}</p>" for sentence in evidence.sentences)
    return f'<div class="evidence{state}">{verdict}{sentences}{skipped}<p class="measured">{escape(measured)}</p></div>'


def navigation(concept: Concept, written: set[str]) -> str:
    """Links to the previous lesson, the index and the next lesson; a lesson this site does not hold is named, not linked."""
    before, after = neighbours(concept)
    return f'<nav>{_neighbour("prev", "previous", before, written)}<a href="index.html">all lessons</a>{_neighbour("next", "next", after, written)}</nav>'


def _neighbour(rel: str, label: str, concept: Concept | None, written: set[str]) -> str:
    if concept is None:
        return "<span></span>"
    if concept.name not in written:
        return f"<span>{label}: {escape(concept.name)} (not in this site)</span>"
    return f'<a rel="{rel}" href="{concept.name}.html">{label}: {escape(concept.name)}</a>'


def exercises_html(concept: Concept) -> str:
    """The exercises that have the learner write this lesson's equation: the command that starts each."""
    items = "".join(
        f"<li><code>{escape(exercise.command())}</code>: {escape(exercise.title)} "
        f"(ch. {exercise.chapter}, {escape(exercise.problem)}), then <code>nndl exercise check DIR</code></li>"
        for exercise in for_lesson(concept.name)
    )
    return f'<div class="exercise"><strong>Write it yourself:</strong><ul>{items}</ul></div>' if items else ""


def page(concept: Concept, evidence: Evidence | None, measured: str, formatter, written: set[str]) -> str:
    parts = "".join(f"<h2><code>{escape(part.title)}</code></h2>{part_table(part)}" for part in parts_of(concept))
    if concept.chapter:
        book = f'the book, <a href="{concept.book_link}">chapter {concept.chapter}</a>'
    else:
        book = "not in the book: nndl's own"
    rules = (
        f'<div class="rules"><strong>nndl\'s own rule:</strong> {_words(concept.rules, written)}</div>'
        if concept.rules
        else ""
    )
    related = [name for name in named_lessons(concept.look_for + concept.rules) if ALIASES[name] is not concept]
    see = f"<p>See also: {', '.join(_words(f'`{name}`', written) for name in related)}</p>" if related else ""
    body = (
        f"{navigation(concept, written)}<h1>{escape(concept.name)}: {escape(concept.title)}</h1>"
        f'<h2>{book}</h2><div class="equation">{"".join(concept.mathml)}</div>{rules}{exercises_html(concept)}'
        f'<h2>what to look for</h2><p class="look">{_words(concept.look_for, written)}</p>{see}'
        f"{parts}<h2>evidence, measured when this page was written</h2>{evidence_html(evidence, measured)}"
        f"{navigation(concept, written)}"
    )
    return _document(f"nndl lesson {concept.name}", body, formatter)


def index(concepts: list[Concept], formatter) -> str:
    groups = []
    for chapter, heading in CHAPTERS.items():
        items = "".join(
            f'<li class="lesson"><a href="{c.name}.html">{escape(c.name)}</a>: {escape(c.title)}</li>'
            for c in concepts
            if c.chapter == chapter
        )
        if items:
            groups.append(f"<h2>{escape(heading)}</h2><ul>{items}</ul>")
    columns = ", ".join(backend for backend, _ in backend_columns())
    intro = f"<p>Each concept of the book in the {columns} backends side by side, with proof that they agree.</p>"
    search = '<p><input id="search" type="search" placeholder="search the lessons" aria-label="search the lessons"></p>'
    body = f"<h1>nndl lessons</h1>{intro}{search}{''.join(groups)}<script>{SEARCH}</script>"
    return _document("nndl lessons", body, formatter)


def _document(title: str, body: str, formatter) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}{formatter.get_style_defs('table.code td')}</style></head>"
        f"<body>{body}</body></html>\n"
    )


def write_site(directory: Path, concepts: list[Concept], measure, overwrite: bool = False, log=print) -> list[Path]:
    """Write index.html and a page per concept into `directory`; `measure(concept)` gives its evidence.

    A directory that holds files already is refused unless `overwrite`, before anything is measured.
    """
    formatter = _formatter()
    if directory.exists() and any(directory.iterdir()) and not overwrite:
        raise NndlError(f"{directory} is not empty; choose another directory or pass --overwrite")
    measured = measured_with()
    written_names = {concept.name for concept in concepts}
    pages = {"index.html": index(concepts, formatter)}
    for concept in concepts:
        log(f"measuring {concept.name}")
        pages[f"{concept.name}.html"] = page(concept, measure(concept), measured, formatter, written_names)
    written = []
    for name, text in pages.items():
        path = directory / name
        write_atomically(path, lambda f, text=text: f.write(text.encode()), overwrite=True)
        written.append(path)
    return written
