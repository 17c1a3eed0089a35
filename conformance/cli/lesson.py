"""`nndl lesson`: one concept of the book in the three backends, side by side, with proof."""

from __future__ import annotations

import sys
from pathlib import Path

from conformance.book import evidence, lesson, site
from conformance.cli.options import add_data_option, log, mnist_of


def add_parser(commands) -> None:
    lessons = commands.add_parser(
        "lesson", help="one concept of the book in the three backends, side by side, with proof"
    )
    lessons.add_argument(
        "concept", nargs="?", help="the concept to show, in any case or by an alias (without one: the list)"
    )
    lessons.add_argument(
        "--html", metavar="DIR", help="write the lessons (or just CONCEPT's) as a static site into DIR"
    )
    lessons.add_argument("--overwrite", action="store_true", help="let --html write into a directory that has files")
    lessons.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="highlight differences (default auto: on a terminal)",
    )
    add_data_option(lessons)
    lessons.set_defaults(run=run)


def run(args) -> int:
    """The list, one lesson in the terminal, or the site; exit 1 if a lesson's evidence failed."""
    mnist = lesson.mnist_loader(lambda: mnist_of(args))
    concepts = [lesson.lookup(args.concept)] if args.concept else lesson.lessons()
    if args.html:
        written = site.write_site(Path(args.html), concepts, lambda c: evidence.measure(c, mnist), args.overwrite, log)
        print(f"wrote {len(written)} pages; open {Path(args.html) / 'index.html'}")
        return 0
    if not args.concept:
        print(lesson.index_text())
        return 0
    found = evidence.measure(concepts[0], mnist)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    print(lesson.lesson_text(concepts[0], found, color=color))
    return 0 if found is None or found.passed else 1
