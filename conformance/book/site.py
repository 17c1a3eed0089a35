"""`nndl lesson --html DIR`: the lessons as a static site, one page per concept and an index.

Each page shows the book's equation as MathML (browsers render it natively: no script, no
network), the three backends' code in three aligned columns highlighted by pygments, the rows
where they differ marked, and the evidence with the date and versions it was measured with.
Every link is relative, so the site works opened from disk.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from conformance.book.lesson import Evidence, Part, backend_columns, measured_with, parts_of
from conformance.book.lessons import Concept
from conformance.spec.errors import NndlError
from conformance.spec.files import write_atomically

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 110em; padding: 0 1em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.1em; margin-top: 2em; font-family: monospace; }
.equation { background: #f6f6f0; padding: 0.5em 1em; border-left: 4px solid #bba; }
.equation math { font-size: 1.3em; margin: 0.4em 0; }
table.code { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.code th { text-align: left; font-weight: normal; font-family: monospace; background: #eee; padding: 0.3em; }
table.code td { font-family: monospace; font-size: 0.85em; white-space: pre-wrap; vertical-align: top;
  padding: 0 0.4em; border-left: 1px solid #ddd; overflow-wrap: anywhere; }
table.code td.differs { background: #fff3c4; }
table.code td.missing { color: #666; font-style: italic; font-family: system-ui, sans-serif; }
.evidence { background: #eef6ee; padding: 0.5em 1em; border-left: 4px solid #6a6; }
.evidence.failed { background: #fbeaea; border-left-color: #c44; }
.measured { color: #555; font-size: 0.9em; }
"""


def _formatter():
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        raise NndlError("nndl lesson --html needs pygments; install it with: pip install 'nndl[lesson]'") from None
    return HtmlFormatter(nowrap=True)


def highlighted_lines(text: str, formatter) -> list[str]:
    """The code as HTML, one string per source line; pygments closes every span at the end of its line."""
    from pygments import highlight
    from pygments.lexers import PythonLexer

    lexer = PythonLexer(stripnl=False, ensurenl=False)
    return highlight(text, lexer, formatter).split("\n") if text else []


def part_table(part: Part, formatter) -> str:
    """Three columns, a row per aligned line; a cell that differs from the reference's is marked."""
    heads = "".join(
        f'<th class="backend {code.backend}">{escape(code.backend)} <small>{escape(code.path)}'
        f"{f':{code.line}' if code.line else ''}</small></th>"
        for code in part.codes
    )
    lines = [highlighted_lines(code.text, formatter) for code in part.codes]
    taken = [0] * len(part.codes)
    body = []
    for number, row in enumerate(part.rows):
        cells = []
        for k, (cell, marked) in enumerate(zip(row.cells, row.marks)):
            code = part.codes[k]
            if code.missing:
                if number == 0:
                    span = max(len(part.rows), 1)
                    cells.append(f'<td class="missing" rowspan="{span}">missing: {escape(code.missing)}</td>')
                continue
            html = ""
            if cell is not None:
                html, taken[k] = lines[k][taken[k]], taken[k] + 1
            cells.append(f'<td class="{"differs" if marked else "same"}">{html}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f'<table class="code"><thead><tr>{heads}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def evidence_html(evidence: Evidence | None, measured: str) -> str:
    if evidence is None:
        return '<div class="evidence">No conformance check of its own: nothing was measured for this concept.</div>'
    skipped = "".join(f"<br>{escape(line)} (not installed, left out)" for line in evidence.skipped)
    state = "" if evidence.passed else " failed"
    verdict = "" if evidence.passed else "<strong>FAILED:</strong> "
    return (
        f'<div class="evidence{state}">{verdict}{escape(evidence.line)}{skipped}'
        f'<br><span class="measured">{escape(measured)}</span></div>'
    )


def page(concept: Concept, evidence: Evidence | None, measured: str, formatter) -> str:
    parts = "".join(f"<h2>{escape(part.title)}</h2>{part_table(part, formatter)}" for part in parts_of(concept))
    note = f"<p>{escape(concept.note)}</p>" if concept.note else ""
    body = (
        f'<p><a href="index.html">all lessons</a></p><h1>{escape(concept.name)}: {escape(concept.title)}</h1>'
        f'<h2>the book</h2><div class="equation">{"".join(concept.mathml)}</div>{note}'
        f"{parts}<h2>evidence, measured when this page was written</h2>{evidence_html(evidence, measured)}"
    )
    return _document(f"nndl lesson {concept.name}", body, formatter)


def index(concepts: list[Concept], formatter) -> str:
    items = "".join(
        f'<li><a href="{concept.name}.html">{escape(concept.name)}</a>: {escape(concept.title)}</li>'
        for concept in concepts
    )
    columns = ", ".join(backend for backend, _ in backend_columns())
    intro = f"<p>Each concept of the book in the {columns} backends side by side, with proof that they agree.</p>"
    return _document("nndl lessons", f"<h1>nndl lessons</h1>{intro}<ul>{items}</ul>", formatter)


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
    pages = {"index.html": index(concepts, formatter)}
    for concept in concepts:
        log(f"measuring {concept.name}")
        pages[f"{concept.name}.html"] = page(concept, measure(concept), measured, formatter)
    written = []
    for name, text in pages.items():
        path = directory / name
        write_atomically(path, lambda f, text=text: f.write(text.encode()), overwrite=True)
        written.append(path)
    return written
