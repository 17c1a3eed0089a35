"""Which max-pool near ties explain a difference between two backends' gradients.

In float32 a max-pool window whose two largest entries are a few ulps apart can have its maximum
decided by the order in which a convolution sums (conformance/suite/tolerances.py): a backend that
sums in another order puts the runner-up on top, or rounds the two equal (and where the layer's
`ties` is "all", a tied maximum's gradient goes to both). The reference's optional `ties` module
(reference/ties.py) lists such windows and gives the reference's gradient with any of them decided
either way. The windows that explain another backend's gradient are those whose decisions, taken
together, bring the reference's gradient to it: the reference's gradient had it decided those ties
as the other backend did.

`nndl conform --explain` names them; the float32 steps taken from the reference's parameters
(conformance/suite/trajectories.py) pass a step over the bound that they explain, and record it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.suite.results import relative_difference

HALVES = 2  # the windows explain a difference if, decided the other way, they divide it at least by this
PASSES = 3  # at most this many passes over the near ties, each tie's decision tried with the others' as found
DECISIONS = ("runner-up", "equal")  # the other way: the runner-up on top, or the two largest rounded equal


@dataclass(frozen=True)
class Flipped:
    """The near ties whose other decision brings the reference's gradient closer to another backend's."""

    windows: dict  # NearTie -> its decision ("runner-up" or "equal"), together at least halving the difference
    as_it_is: float  # the other backend's gradient against the reference's, relative
    together: float  # the same, with every window of `windows` decided so (as_it_is if there is none)
    gradient: list | None  # the reference's gradient with them decided so (None if there is none)

    def describe(self) -> list[str]:
        """Each window, where it is and how it was decided."""
        how = {"runner-up": "its runner-up on top", "equal": "its two largest entries equal"}
        return [f"{tie.describe()}; {how[decision]}" for tie, decision in self.windows.items()]


def has_max_pooling(spec) -> bool:
    """Whether the spec's net has a max-pooling layer, where a near tie can be decided either way."""
    return any(layer.type == "conv" and layer.pooling == "max" for layer in spec.network.layers)


def flipped_windows(ties, spec, params, batch, n: int, near: list, theirs, at_reference) -> Flipped:
    """Which of the `near` ties (`ties.near_ties` at `params` on `batch` = (x, y, masks)), decided another
    way, turn the reference's gradient `at_reference` towards `theirs`, and how close they do.
    `ties` is the reference's ties module; n the training set's size (lambda / n).

    A near tie can go the other way in two ways: another order of sums puts the runner-up on top, or
    rounds the two equal (where the layer sends a tied maximum's gradient to every maximum, that is the
    gradient to both). Each near tie in turn takes the decision that brings the gradient nearest to
    `theirs`, the others' as found so far, until a pass changes none: one at a time from the reference's
    would miss windows that share the difference, none of them half of it.
    """
    as_it_is = relative_difference(theirs, at_reference)

    def distance(decided):
        swapped = [tie for tie, how in decided.items() if how == "runner-up"]
        equal = [tie for tie, how in decided.items() if how == "equal"]
        return relative_difference(theirs, ties.gradients_with_swapped(spec, params, *batch, n, swapped, equal))

    decided, together = {}, as_it_is
    for _ in range(PASSES):
        changed = False
        for tie in near:
            others = {other: how for other, how in decided.items() if other is not tie}
            for trial in [others, *({**others, tie: how} for how in DECISIONS)]:
                if trial != decided and (found := distance(trial)) < together:
                    decided, together, changed = trial, found, True
        if not changed:
            break
    if not decided or together >= as_it_is / HALVES:
        return Flipped({}, as_it_is, as_it_is, None)
    swapped = [tie for tie, how in decided.items() if how == "runner-up"]
    equal = [tie for tie, how in decided.items() if how == "equal"]
    return Flipped(decided, as_it_is, together, ties.gradients_with_swapped(spec, params, *batch, n, swapped, equal))


def step_with(params, gradient, eta: float, dtype) -> list:
    """The SGD step from `params` down `gradient` (of the regularised cost, so weight decay is inside it),
    in `dtype`: W - eta dC/dW and b - eta dC/db."""
    eta = np.dtype(dtype).type(eta)
    return [
        (np.asarray(w, dtype=dtype) - eta * np.asarray(gw, dtype=dtype), np.asarray(b, dtype=dtype) - eta * gb)
        for (w, b), (gw, gb) in zip(params, gradient)
    ]
