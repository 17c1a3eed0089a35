"""`nndl conform --explain` for a chapter 6 net: which part of backprop through a conv-pool layer a
failing port gets wrong, from the numbers.

A conv-pool layer l (z = pool(W * x) + b, a = sigma(z), reference/layers.py) takes delta^l = dC/dz^l
from above and makes three things of it (ch. 6's backprop problem):
- dC/db^l, the sum of delta^l over the examples and the pooled map (BP3): the pooling is not in it;
- the correlation's delta, delta^l sent back through the pooling (max: to each window's maximum;
  L2: dC/dpooled * u / pooled, 0 at an all-zero window), from which come both
- dC/dW^l, every position's delta times the input window it saw (BP4 for a shared kernel), and
- dC/dx, the delta passed down to the layer below: the full correlation of that delta with the
  kernel flipped in both spatial axes, its filters and channels swapped (BP2 for shared weights).
So which arrays differ and which agree locate the part that broke:
- dC/dW^l off while dC/db^l, from the same delta, agrees, and the delta passed down right (every
  dC/db below fine): the weight gradient (or, at the lowest conv layer, where nothing is passed
  down, the routing that feeds it);
- dC/dW^l off, dC/db^l fine, and the delta passed down wrong (a dC/db below off): the pooling's
  routing, which both dC/dW^l and the delta passed down are made from;
- layer l's own dC/dW and dC/db fine, and the layer below off in both: the input gradient.
How it broke is a hypothesis tested against the numbers: the reference's gradient with one known
slip made (the reference's optional `conv_slips`, reference/conv_slips.py: a missing kernel flip, a
channel axis reshaped where a transpose belongs, a weight gradient flipped or transposed, max-pooling's
gradient to the wrong entry, L2 pooling's 0/0 at an all-zero window) is compared with the port's; the
slip that gives the port's gradient within the gradient check's bound is named, with both distances.
A NaN in the port's gradient is located (layer, array, how many entries) before anything else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

WEIGHT, INPUT, ROUTING = "the conv weight gradient", "the conv input gradient", "the pooling's routing"
EQUATIONS = {  # each part of backprop through a conv-pool layer, as ch. 6's backprop problem has it
    WEIGHT: "dC/dW[f,c,p,q] = sum_{n,i,j} delta[n,f,i,j] x[n,c,i+p,j+q] (BP4 for a shared kernel)",
    INPUT: (
        "dC/dx[n,c,a,b] = sum_{f,p,q} delta[n,f,a-p,b-q] w[f,c,p,q] (BP2 for shared weights): delta fully "
        "correlated with the kernel flipped in both spatial axes, its filters and channels swapped"
    ),
    ROUTING: (
        "delta sent back to the correlation, max-pooling's to each window's maximum (by the layer's ties "
        "rule), L2's as dC/dpooled * u / pooled, 0 at an all-zero window"
    ),
}
SLIPS = {  # each of reference/conv_slips.py's slips: the part it breaks, and how
    "weight gradient flipped": (WEIGHT, "dC/dW flipped in both spatial axes"),
    "weight gradient transposed": (WEIGHT, "dC/dW with its rows and columns exchanged"),
    "unflipped kernel": (INPUT, "a missing kernel flip, delta correlated with the kernel as it is"),
    "channels reshaped": (
        INPUT,
        (
            "a transposed channel axis, the kernel's (filters, channels) axes reshaped to (channels, filters) "
            "where a transpose belongs, so each channel takes other filters' weights"
        ),
    ),
    "max-pool place transposed": (
        ROUTING,
        "each window's gradient sent to its maximum's place with row and column exchanged",
    ),
    "max-pool first place": (ROUTING, "each window's gradient sent to its first entry, wherever its maximum is"),
    "L2-pool zero windows NaN": (ROUTING, "L2 pooling's 0/0 left at each all-zero window"),
}
NAN_SLIP = "L2-pool zero windows NaN"


def conv_culprit(differences, spec, theirs, slipped: Callable | None, slips, bound: float) -> str | None:
    """What went wrong in a conv-pool layer, as a line, or None where the net has no conv layer or the
    arrays that differ point at no part of one (explain.gradient_culprit then reads them as a dense net's).

    `differences`: explain.ArrayDifference of `theirs`, the gradient under suspicion, against the other of its
    pair; `slipped(slip)`: the reference's gradient with one of `slips` made (None where the reference has no
    conv_slips); bound: the gradient check's. Only the slips of the parts the arrays point at are tried.
    """
    conv = [index for index, layer in enumerate(spec.network.layers, start=1) if layer.type == "conv"]
    if not conv:
        return None
    known = [slip for slip in slips if slip in SLIPS and _applies(slip, spec, conv)] if slipped else []
    if nan := _nan_entries(theirs):
        tried = _distance(theirs, slipped(NAN_SLIP)) if NAN_SLIP in known else None
        return _nan_culprit(nan, tried, bound)
    off = {(d.layer, d.array) for d in differences if not d.fine}
    part = _part_from_arrays(off, conv)
    if part is None:
        return None
    suspects = {part, ROUTING} if part == WEIGHT else {part}  # at the lowest conv layer the routing looks alike
    tried = {slip: _distance(theirs, slipped(slip)) for slip in known if SLIPS[slip][0] in suspects}
    matched = min((slip for slip, distance in tried.items() if distance <= bound), key=tried.get, default=None)
    part = SLIPS[matched][0] if matched else part
    where, evidence = _evidence(part, off, conv, matched is not None)
    book = f"Ch. 6's backprop problem: {EQUATIONS[part]}"
    if matched and part == ROUTING:  # the slip is made at every layer with its pooling, and reproduces them all
        pooling = "max" if matched.startswith("max") else "l2"
        where = f"at {_layers([i for i in conv if spec.network.layers[i - 1].pooling == pooling])}"
    if matched:
        as_it_is = max(d.relative for d in differences)
        return (
            f"{part} {where} is wrong: {evidence}. The slip: {SLIPS[matched][1]}; with it made, the reference's "
            f"gradient is this one to {tried[matched]:.1e} ({as_it_is:.1e} without it). {book}"
        )
    tried_none = f"; none of the slips tried ({', '.join(tried)}) gives this gradient" if tried else ""
    return f"{part} {where} is wrong: {evidence}{tried_none}. {book}"


def _applies(slip: str, spec, conv: list[int]) -> bool:
    """Whether the net has the part `slip` breaks: a conv layer that passes a delta down, or the pooling."""
    poolings = {spec.network.layers[index - 1].pooling for index in conv}
    if SLIPS[slip][0] == INPUT:
        return len(conv) > 1 or conv[0] > 1
    if slip.startswith("max-pool"):
        return "max" in poolings
    if slip.startswith("L2-pool"):
        return "l2" in poolings
    return True


def _part_from_arrays(off: set, conv: list[int]) -> str | None:
    """The part the arrays that differ point at (the module's docstring), at the highest layer that differs."""
    if not off:
        return None
    top = max(layer for layer, _ in off)
    passed_down = any((layer, "dC/db") in off for layer in range(1, top))  # a wrong delta below: its dC/db is off
    if top in conv and (top, "dC/dW") in off and (top, "dC/db") not in off:
        return ROUTING if passed_down else WEIGHT
    if top + 1 in conv and {(top, "dC/dW"), (top, "dC/db")} <= off:
        return INPUT
    return None


def _evidence(part: str, off: set, conv: list[int], matched: bool) -> tuple[str, str]:
    """(at which layers, what the arrays that differ and agree say), for `part`; `matched`: whether a slip
    reproduces the gradient."""
    if part == INPUT:
        passing = [layer for layer in conv if layer > 1 and not {(layer, "dC/dW"), (layer, "dC/db")} & off]
        where = f"of {_layers(passing)}"
        said = "its own dC/dW and dC/db agree and the layers below differ, so the delta it passes down is wrong"
        if not matched:
            below = max(layer for layer, _ in off)
            said += f" (or BP2's second half, the layer below's * sigma'(z^{below}))"
        return where, said
    weights_off = [layer for layer in conv if (layer, "dC/dW") in off and (layer, "dC/db") not in off]
    if not weights_off:
        return "", "the arrays that differ: " + ", ".join(f"{array}^{layer}" for layer, array in sorted(off)[::-1])
    where, lowest = f"at {_layers(weights_off)}", min(weights_off)
    l = str(lowest) if len(weights_off) == 1 else "l"
    said = f"dC/dW^{l} off while dC/db^{l}, the sum of the same delta, agrees"
    if len(weights_off) > 1:
        said += f" (l = {', '.join(str(layer) for layer in weights_off)})"
    below = any((layer, "dC/db") in off for layer in range(1, lowest))
    if part == ROUTING and below:
        return where, f"{said}, and the layers below, made from delta sent back through the pooling as dC/dW is, differ"
    if min(conv) < lowest:
        return where, f"{said}, and the delta passed down is right (every dC/db below agrees)"
    if matched:  # at the lowest conv layer, a wrong weight gradient and a wrong routing show in the same array
        other = "a wrong routing" if part == WEIGHT else "a wrong weight gradient"
        return where, f"{said} ({other} would show so too; the slip tells which)"
    return where, (
        f"{said}; or the pooling's routing, which dC/dW is made from too: at the lowest conv layer no delta is "
        "passed down to tell them apart"
    )


def _layers(layers: list[int]) -> str:
    """'layer 2', 'layers 1 and 2'."""
    return f"layer{'s' * (len(layers) > 1)} {' and '.join(str(layer) for layer in layers)}"


def _nan_entries(gradient) -> list[tuple[int, str, int, int]]:
    """(layer, array, entries that are NaN, entries) for each array of `gradient` with a NaN, the highest layer first."""
    found = []
    for layer, arrays in enumerate(gradient, start=1):
        for name, array in zip(("dC/dW", "dC/db"), arrays):
            count = int(np.count_nonzero(np.isnan(np.asarray(array, dtype=np.float64))))
            if count:
                found.append((layer, name, count, np.size(array)))
    return sorted(found, key=lambda entry: -entry[0])


def _nan_culprit(nan: list, distance: float | None, bound: float) -> str:
    """Where the NaN is, and whether L2 pooling's 0/0 at an all-zero window makes exactly it."""
    where = "; ".join(f"layer {layer}'s {array} in {count} of {size} entries" for layer, array, count, size in nan)
    if distance is not None and distance <= bound:
        return (
            f"NaN in {where}: L2 pooling's gradient at an all-zero window, dC/du = dC/dpooled * u / pooled, "
            "is 0/0 there, and the spec makes it 0 (ch. 6, L2 pooling; the reference's L2Pool.backward): with "
            f"that 0/0 at its all-zero windows the reference has NaN in exactly these entries, and the rest "
            f"agree to {distance:.1e}"
        )
    return f"NaN in {where}, and none in the reference's gradient: a 0/0 or inf - inf in the backward pass"


def _distance(theirs, ours) -> float:
    """The relative difference of two gradients, array by array, the worst: inf where their NaNs sit in
    different entries; NaN entries found in both are left out."""
    worst = 0.0
    for pair, other in zip(theirs, ours):
        for a, b in zip(pair, other):
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            if not np.array_equal(np.isnan(a), np.isnan(b)):
                return np.inf
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            gap, size = np.linalg.norm(a - b), np.linalg.norm(b)
            worst = max(worst, gap / size if size > 0 else (0.0 if gap == 0 else np.inf))
    return float(worst)
