"""Which max-pool near ties explain a difference between two backends' gradients.

In float32 a max-pool window whose two largest entries are a few ulps apart can have its maximum
decided by the order in which a convolution sums (conformance/suite/tolerances.py): a backend that
sums in another order sends the window's gradient to another place. The reference's optional `ties`
module (reference/ties.py) lists such windows and gives the reference's gradient with any of them sent
the other way. The windows that explain another backend's gradient are those that, sent the other way
together, bring the reference's gradient to it, none of them idle: the reference's gradient had it
decided those ties as the other backend did.

`nndl conform --explain` names them; the float32 steps taken from the reference's parameters
(conformance/suite/trajectories.py) pass a step over the bound that they explain, and record it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.suite.results import relative_difference

HALVES = 2  # the windows explain a difference if, sent the other way together, they divide it at least by this


@dataclass(frozen=True)
class Flipped:
    """The near ties that bring the reference's gradient closer to another backend's, and how close."""

    windows: list  # the reference's NearTies that, sent the other way together, at least halve the difference
    as_it_is: float  # the other backend's gradient against the reference's, relative
    together: float  # the same, with every window of `windows` sent the other way (as_it_is if there is none)
    gradient: list | None  # the reference's gradient with them sent the other way (None if there is none)


def has_max_pooling(spec) -> bool:
    """Whether the spec's net has a max-pooling layer, where a near tie can be decided either way."""
    return any(layer.type == "conv" and layer.pooling == "max" for layer in spec.network.layers)


def flipped_windows(ties, spec, params, batch, n: int, near: list, theirs, at_reference) -> Flipped:
    """Which of the `near` ties (`ties.near_ties` at `params` on `batch` = (x, y, masks)), sent the other
    way, turn the reference's gradient `at_reference` towards `theirs`, and how close they do.
    `ties` is the reference's ties module; n the training set's size (lambda / n).

    Every near tie is sent the other way, then each in turn is sent back if that leaves the gradient
    no farther from `theirs`: what remains are the windows the other backend decided the other way.
    One at a time would miss them where several windows share the difference, none of them half of it.
    """
    as_it_is = relative_difference(theirs, at_reference)

    def distance(windows):
        return relative_difference(theirs, ties.gradients_with_swapped(spec, params, *batch, n, windows))

    windows, together = list(near), distance(near)
    for tie in near:
        without = [other for other in windows if other is not tie]
        sent_back = distance(without)
        if sent_back <= together:
            windows, together = without, sent_back
    if not windows or together >= as_it_is / HALVES:
        return Flipped([], as_it_is, as_it_is, None)
    return Flipped(windows, as_it_is, together, ties.gradients_with_swapped(spec, params, *batch, n, windows))


def step_with(params, gradient, eta: float, dtype) -> list:
    """The SGD step from `params` down `gradient` (of the regularised cost, so weight decay is inside it),
    in `dtype`: W - eta dC/dW and b - eta dC/db."""
    eta = np.dtype(dtype).type(eta)
    return [
        (np.asarray(w, dtype=dtype) - eta * np.asarray(gw, dtype=dtype), np.asarray(b, dtype=dtype) - eta * gb)
        for (w, b), (gw, gb) in zip(params, gradient)
    ]
