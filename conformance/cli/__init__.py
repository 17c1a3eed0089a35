"""The `nndl` command: data, presets, train, evaluate, ensemble, conform, bench, lesson, exercise.

One module per command, each with its arguments beside it (`add_parser`) and a `run(args)` that
parses nothing, calls the function that does the work, and prints; the options several commands
share are in options.py. The top wing: it may import every other wing.

Every error the user can cause (a bad spec, a missing data file, a wrong checkpoint, a run that
diverges) ends as one line on stderr and exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from conformance.cli import bench, conform, data, ensemble, evaluate, exercise, lesson, reproduce, train
from conformance.spec.errors import NndlError


def main(argv: list[str] | None = None) -> int:
    _find_ports_in_the_working_folder()
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except NndlError as error:
        print(f"nndl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interruption:
        what_was_saved = f"; {interruption}" if interruption.args else ""
        print(f"nndl: interrupted{what_was_saved}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, as `nndl presets | head` does
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (stdout for the rest of the process)
        return 0


def _find_ports_in_the_working_folder() -> None:
    """Let `--backends numpy,mypkg.port` find a port in the folder nndl runs in, as `python -m` would. The
    folder goes last on sys.path, so an installed package of the same name still wins."""
    if os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nndl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    data.add_parsers(commands)  # data and presets
    train.add_parser(commands)
    evaluate.add_parser(commands)
    ensemble.add_parser(commands)
    conform.add_parser(commands)
    reproduce.add_parser(commands)
    bench.add_parser(commands)
    lesson.add_parser(commands)
    exercise.add_parser(commands)
    return parser
