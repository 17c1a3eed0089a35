"""`nndl exercise`: write one of the book's equations yourself, and be told whether it is right, and if not which.

Exit status: 0 when the exercise passes (or for the list and `start`); 1 when it is wrong or not written
yet; 2 for bad input (an unknown exercise, a folder that is not empty or not an exercise's).
"""

from __future__ import annotations

from pathlib import Path

from conformance.book import grading
from conformance.cli.options import add_data_option, log, mnist_of


def add_parser(commands) -> None:
    exercise = commands.add_parser(
        "exercise", help="write one of the book's equations yourself; conformance grades it and names what is wrong"
    )
    actions = exercise.add_subparsers(dest="action", metavar="ACTION")
    start = actions.add_parser("start", help="write an exercise's folder: its function left to you, and a README")
    start.add_argument("name", help="the exercise (nndl exercise lists them)")
    start.add_argument("dir", type=Path, help="a new folder (or an empty one) to write it into")
    check = actions.add_parser("check", help="grade the function written in an exercise's folder")
    check.add_argument("dir", type=Path, help="the folder `nndl exercise start` wrote")
    add_data_option(check)
    exercise.set_defaults(run=run)


def run(args) -> int:
    if args.action is None:
        print(grading.listing())
        return 0
    if args.action == "start":
        written = grading.start(args.name, args.dir)
        print(f"wrote {', '.join(path.name for path in written)} into {args.dir}; read {args.dir / 'README.md'}")
        return 0
    verdict = grading.check(args.dir, mnist_of(args), progress)
    print(verdict.text())
    return 0 if verdict.passed else 1


def progress(message: str) -> None:
    """The run's progress on stderr, without the engine's line per failing port method: the verdict says it."""
    if not message.startswith(" "):
        log(message)
