"""`nndl exercise start` and `check`: write an exercise's folder, and grade the function written in it.

A check runs the exercise's conformance rows (conformance/book/exercises.py, `cases`) with the reference
and the folder's port, as `nndl conform --explain` would, and comes to one of three verdicts: pass, with
the worst difference and what it means; wrong, with --explain's account of the first failing check (the
equation, the layer, the array, the ratio); or not written yet, where the function raised
NotImplementedError. The hint comes from the numbers only: nothing here reads the learner's source.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conformance.backend.registry import REFERENCE
from conformance.book.exercises import EXERCISES, Exercise, lookup
from conformance.data import mnist as mnist_file
from conformance.spec.errors import NndlError, one_line
from conformance.suite.engine import run_conformance
from conformance.suite.gradients import FINITE_DIFFERENCES

FILES = ("__init__.py", "exercise.py", "port.py", "README.md")
PASS, WRONG, NOT_WRITTEN = "pass", "wrong", "not written yet"
WIDTH = 100  # the verdict's lines are wrapped to fit it, as `nndl conform`'s table is
ROUNDING = 100  # a difference of at most this many eps is called rounding; more, within the bound, grown rounding

README = """\
# nndl exercise {name}: {title}
1. Write `{function}` in exercise.py: its docstring gives the book's equation (ch. {chapter}, {problem}).
2. Check it: `nndl exercise check {folder}` (from where you ran start); it runs the nets your function is in.
3. It says pass, "not written yet", or which equation is wrong and where (layer, array, the ratio to the right one).
4. port.py puts your function in the reference's place (`nndl lesson {lesson}` shows the reference's own).
5. Fix it and check again until it passes; the hint comes from the numbers, never from reading your code.
"""


def exercise_named(name: str) -> Exercise:
    exercise = lookup(name)
    if exercise is None:
        raise NndlError(f"no exercise called {name!r}; choose one of: {', '.join(e.name for e in EXERCISES)}")
    return exercise


def listing() -> str:
    """`nndl exercise`: every exercise, with the book's chapter and equation or problem."""
    width = max(len(exercise.name) for exercise in EXERCISES)
    lines = [f"{len(EXERCISES)} exercises (nndl exercise start NAME DIR, then nndl exercise check DIR):"]
    lines += [
        f"  {exercise.name:<{width}}  ch. {exercise.chapter}, {exercise.problem}: {exercise.title}"
        for exercise in EXERCISES
    ]
    return "\n".join(lines)


def start(name: str, directory: Path) -> list[Path]:
    """Write the exercise's folder; refuse one that exists with anything in it (never the learner's work)."""
    exercise = exercise_named(name)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise NndlError(f"{directory} exists and is not an empty folder: name a new one (nothing was written)")
    directory.mkdir(parents=True, exist_ok=True)
    texts = {
        "__init__.py": f'"""Your exercise.py and the port that runs it."""\n\nEXERCISE = "{exercise.name}"\n',
        "exercise.py": exercise.skeleton,
        "port.py": exercise.port,
        "README.md": README.format(**vars(exercise), folder=directory),
    }
    for file, text in texts.items():
        (directory / file).write_text(text)
    return [directory / file for file in FILES]


@dataclass
class Verdict:
    kind: str  # PASS, WRONG or NOT_WRITTEN
    exercise: Exercise
    lines: list[str]

    @property
    def passed(self) -> bool:
        return self.kind == PASS

    def text(self, width: int = WIDTH) -> str:
        """The verdict's lines, each wrapped at word boundaries to `width` under its own indentation."""
        lines = [f"{self.kind}: {self.exercise.name} ({self.exercise.title})", *self.lines]
        return "\n".join(_wrapped(line, width) for line in lines)


def check(directory: Path, mnist=None, log=mnist_file.silent) -> Verdict:
    """Grade the function in `directory` (written by `start`) on its exercise's conformance rows."""
    port, exercise = _port_of(directory)
    if isinstance(port, Verdict):  # the files cannot be imported
        return port
    mnist = mnist or mnist_file.load_mnist(None, log=log)
    outcome = run_conformance(
        "quick", [REFERENCE, port], mnist, case_patterns=list(exercise.cases), explain=True, log=log
    )
    yours = [result for result in outcome.results if FINITE_DIFFERENCES not in result.pair]
    raised = [result.error for result in yours if result.error]
    if any("NotImplementedError" in line for line in raised):
        return Verdict(NOT_WRITTEN, exercise, [f"`{exercise.function}` in exercise.py raises NotImplementedError"])
    if raised:
        return Verdict(WRONG, exercise, [f"your function raised: {raised[0]}", *_your_frames(outcome, directory)])
    if outcome.failures:
        return Verdict(WRONG, exercise, _hint(outcome, yours))
    ran = [result for result in yours if not result.not_applicable]
    if not ran:
        return Verdict(WRONG, exercise, ["no check ran: " + "; ".join(outcome.not_run)])
    return Verdict(PASS, exercise, _worst_difference(ran))


def _port_of(directory: Path):
    """(the port's dotted name, or a WRONG Verdict where the learner's files cannot be imported; the exercise).

    The folder is imported as a package of a name of its own, so that port.py finds exercise.py beside it;
    its __init__.py, which `start` wrote, names the exercise."""
    if not (directory / "port.py").is_file() or not (directory / "__init__.py").is_file():
        raise NndlError(
            f"{directory} is not an exercise folder (no port.py): make one with nndl exercise start NAME DIR"
        )
    package = "nndl_exercise_" + hashlib.sha1(str(directory.resolve()).encode()).hexdigest()[:12]
    for name in [name for name in sys.modules if name == package or name.startswith(package + ".")]:
        del sys.modules[name]  # the learner may have changed the files since the last check in this process
    spec = importlib.util.spec_from_file_location(
        package, directory / "__init__.py", submodule_search_locations=[str(directory)]
    )
    sys.modules[package] = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(sys.modules[package])
    except Exception as error:  # noqa: BLE001 (an __init__.py edited into anything)
        raise NndlError(f"{directory / '__init__.py'} cannot be imported: {one_line(error)}") from None
    name = getattr(sys.modules[package], "EXERCISE", None)
    if name is None:
        raise NndlError(f"{directory / '__init__.py'} names no EXERCISE: make the folder with nndl exercise start")
    exercise = exercise_named(name)
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the learner's folder
    try:
        importlib.import_module(f"{package}.port")
    except Exception as error:  # noqa: BLE001 (the learner's file may fail to import in any way)
        return Verdict(WRONG, exercise, [f"exercise.py cannot be imported: {one_line(error)}"]), exercise
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return f"{package}.port", exercise


def _wrapped(line: str, width: int) -> str:
    if "\n" in line:  # the traceback of the learner's error, as Python printed it
        return line
    indent = line[: len(line) - len(line.lstrip())]
    return textwrap.fill(line, width, subsequent_indent=indent + "  ", break_long_words=False, break_on_hyphens=False)


def _hint(outcome, yours: list) -> list[str]:
    """--explain's account of the first failing check in full, and what else failed."""
    failing = [result for result in yours if result.failed]
    blocks = _blocks(outcome.explanations)
    lines = [f"{len(failing)} of {len([r for r in yours if not r.not_applicable])} checks fail; the first:"]
    lines += blocks[0] if blocks else [f"{failing[0].case} ({failing[0].check}): {failing[0].value:.1e}"]
    first = {line.strip() for line in lines}
    others = [line.strip() for block in blocks[1:] for line in block if line.strip().startswith("->")]
    return lines + [f"another failing check: {line[3:]}" for line in dict.fromkeys(others) if line not in first]


def _your_frames(outcome, directory: Path) -> list[str]:
    """The traceback of what the learner's function raised, from the first frame in `directory` on."""
    if not outcome.tracebacks:
        return []
    lines = outcome.tracebacks[0].splitlines()
    yours = next((i for i, line in enumerate(lines) if f'File "{directory.resolve()}' in line), 1)
    return ["\n".join(["Traceback (most recent call last), from your files on:", *lines[yours:]])]


def _blocks(explanations: list[str]) -> list[list[str]]:
    """--explain's lines, one block per failing check (its heading line, then its indented lines)."""
    blocks = []
    for line in explanations:
        if not line.startswith(" "):
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def _worst_difference(ran: list) -> list[str]:
    """The worst relative difference of the checks that ran, and what it means against the dtype's eps and the
    bound (correct counts, whose bound is 0 images, are counted, not compared)."""
    worst = max((result for result in ran if result.bound > 0), key=lambda result: result.value / result.bound)
    eps = float(np.finfo(worst.dtype).eps)
    ulps = worst.value / eps
    if worst.value == 0:
        meaning = "bitwise the reference's"
    elif ulps <= ROUNDING:
        meaning = f"{ulps:.1f} x {worst.dtype}'s eps ({eps:.1e}): the reference's to rounding"
    else:
        meaning = f"{ulps:.0f} x {worst.dtype}'s eps ({eps:.1e}): rounding grown over the steps, within the bound"
    return [
        f"{len(ran)} check{'s' if len(ran) > 1 else ''} ran, every one within its bound",
        f"worst relative difference {worst.value:.1e} ({worst.case}, {worst.check}; bound {worst.bound:g}): {meaning}",
    ]
