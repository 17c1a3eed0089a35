"""The exercises of `nndl exercise`, as data: each is the reference with one function left to the learner.

`nndl exercise start NAME DIR` writes an entry's `skeleton` as DIR/exercise.py (the one function: its
signature, a docstring with the book's equation, `raise NotImplementedError`), its `port` as DIR/port.py
(the reference with the learner's function in the place of its own) and a five-line README.
`nndl exercise check DIR` (conformance/book/grading.py) runs the quick conformance rows whose names match
the entry's `cases`, the reference against DIR's port, with --explain, and says one of: pass (the worst
difference and what it means), wrong (--explain's verdict: the equation, the layer, the array, the
ratio), or not written yet (the function raised NotImplementedError: a failure).

To add an exercise, add an `Exercise` to EXERCISES (a new chapter's exercises may sit in a module of
their own whose list is added to EXERCISES here):
- `skeleton`: the text of exercise.py, with the function the port imports by `function`'s name.
- `port`: the text of port.py, a backend module (NAME "yours", `Model`, and `supports` to decline the
  nets the exercise has nothing to do with); `start` writes the entry's name into DIR/__init__.py. The reference runs in the same
  process, so the port never changes a module or class of the reference: it subclasses what it
  replaces and gives only its own objects the learner's function (a Model whose network has another
  cost, another layer, or an epoch loop of its own). `COST_PORT`, `BACKPROP_PORT` and `STEP_PORT` are
  templates (str.format) for the kinds built so far.
- `cases`: regular expressions searched in `nndl conform --list`'s names (--quick): the few rows that
  run the learner's function, so that a check takes seconds.
- The hint is --explain's, found from the numbers only (conformance/suite/explain.py and the modules
  beside it). Where it cannot yet name the slip the exercise invites, teach it there, never by
  reading the learner's source. tests/test_exercise.py holds each exercise to: the skeleton is
  "not written yet", the reference's own solution passes, a typical wrong answer gets its hint.
- Equation numbers only where checked against the book (README, lessons.toml); else the section.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    name: str  # `nndl exercise start NAME DIR`
    title: str
    chapter: int
    problem: str  # the book's equation or problem the function is: "BP1-BP4", "eq. 93", or the section
    lesson: str  # the `nndl lesson` it belongs to (the site links the lesson to the exercise)
    function: str  # the learner's function in exercise.py
    skeleton: str  # exercise.py
    port: str  # port.py
    cases: tuple[str, ...]  # `nndl conform --case` patterns: the rows that run the function


PORT_HEAD = '''\
"""nndl's reference (NumPy) with your `{function}` from exercise.py in the place of its own, for
`nndl exercise check`. Only this port's own objects use your function: the reference, which it is
compared with in the same process, keeps its own. You need not change this file.
"""
'''

COST_PORT = (
    PORT_HEAD
    + '''
import reference
from reference.costs import {cost_class}

from .exercise import delta

NAME = "yours"


def supports(spec):
    """Your function runs only in the nets with this cost."""
    return None if spec.network.cost == "{cost}" else "not the {cost} cost"


class YourCost({cost_class}):
    delta = staticmethod(delta)


class Model(reference.Model):
    def __init__(self, spec, params, device="cpu"):
        super().__init__(spec, params, device)
        self.network.cost = YourCost  # this model's network only
'''
)

COST_SKELETON = '''\
"""Your exercise: {title} (ch. {chapter}, {problem}). Check it with `nndl exercise check DIR`."""

import numpy as np  # noqa: F401 (yours to use)


def delta(z, a, y):
    """{equation}

    Rows are examples: z (the output layer's weighted input), a (its activation) and the one-hot
    desired output y are (m, 10) arrays. Return delta^L of each example, an (m, 10) array; the caller
    takes the mean over the mini-batch.
    """
    raise NotImplementedError
'''


def _cost_exercise(name, title, chapter, problem, lesson, cost, cost_class, equation, cases) -> Exercise:
    fields = {"name": name, "title": title, "chapter": chapter, "problem": problem, "function": "delta"}
    return Exercise(
        name,
        title,
        chapter,
        problem,
        lesson,
        "delta",
        COST_SKELETON.format(**fields, equation=equation),
        COST_PORT.format(**fields, cost=cost, cost_class=cost_class),
        cases,
    )


EXERCISES = [
    _cost_exercise(
        "quadratic-delta",
        "the output error of the quadratic cost",
        2,
        "BP1",
        "quadratic",
        "quadratic",
        "QuadraticCost",
        "BP1 for the quadratic cost C = 1/2 ||y - a||^2 with sigmoid outputs (ch. 2, BP1):\n\n"
        "        delta^L = nabla_a C * sigma'(z^L) = (a^L - y) * sigma'(z^L),\n\n"
        "    with sigma'(z) = sigma(z) (1 - sigma(z)), and * the elementwise (Hadamard) product.",
        ("^grad (sigmoidx1|relux2|tanhx3|sigmoidx3) sigmoid/quadratic .* float64$",),
    ),
]


def lookup(name: str) -> Exercise | None:
    return next((exercise for exercise in EXERCISES if exercise.name == name), None)


def for_lesson(lesson: str) -> list[Exercise]:
    """The exercises of a lesson (by its name), for `nndl lesson` and the site's links."""
    return [exercise for exercise in EXERCISES if exercise.lesson == lesson]
