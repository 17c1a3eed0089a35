"""What a training step got wrong, named from the numbers: the step as multiples of the book's terms.

`nndl conform --explain` replays the first step beyond the bound from the reference's parameters. When
the two backends' gradients agree there and their steps do not, each port's step is fitted, array by
array, by least squares as a sum of the book's terms from its own gradient (`step_terms`):

    W's step = a (-eta g) + c (-eta (lambda / n) d),   b's step = a_b (-eta dC/db) + c_b (-eta (lambda / n) d_b)

with g the gradient without the regulariser's term and d = W for L2, sgn(W) for L1. The book's step is
a = c = a_b = 1, c_b = 0. Where the fit leaves no more than rounding, what differs is named
(`step_findings`): a or a_b = m, the mean without its 1/m; -1, the wrong sign; c = -1, the regulariser's
step with the wrong sign; another c, the n it implies; c_b != 0, weight decay applied to the biases;
another ratio, as found.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIT_ROUNDING = 10  # a step is a sum of the book's terms if the fit leaves at most this many eps (||W|| + eta ||g||):
# measured, each backend's own step of the first 10 of every quick training run: at most 2.2 (float64), 1.6 (float32)
RATIO_TOLERANCE = 1e-2  # a step's term is named by its ratio to the book's to two digits


@dataclass(frozen=True)
class StepTerms:
    """One layer's step, as multiples of the terms of the book's step from the same parameters.

    W's step = gradient_w (-eta g) + decay_w (-eta (lambda / n) d), with g the gradient of the
    unregularised cost and d = W for L2, sgn(W) for L1; b's step = gradient_b (-eta dC/db) +
    decay_b (-eta (lambda / n) d_b), d_b = b or sgn(b). The book's step is (1, 1, 1, 0). None: no
    such term (no regulariser), or one too small here for the step to tell its multiple (a layer
    below a zero-initialised output layer has no gradient at the first step).
    """

    layer: int  # 1 for the first layer with weights
    gradient_w: float | None  # the module docstring's a
    decay_w: float | None  # c
    gradient_b: float | None  # a_b
    decay_b: float | None  # c_b


def step_terms(before, after, gradient, training, n: int) -> list[StepTerms] | None:
    """Each layer's step from `before` to `after` decomposed by least squares into the book's terms,
    `gradient` being the backend's gradient of the regularised cost at `before` (the data term is that
    gradient less the regulariser's (lambda / n) d); None where an array's step is no such sum."""
    eta, strength, eps = training.eta, training.lmbda / n, float(np.finfo(training.dtype).eps)
    regularised = training.regularizer != "none"
    direction = np.sign if training.regularizer == "l1" else (lambda array: array)
    terms = []
    for layer, (start, end, grads) in enumerate(zip(before, after, gradient), start=1):
        fits = []
        for array, array_after, grad, is_weight in zip(start, end, grads, (True, False)):
            array, array_after, grad = (np.asarray(a, dtype=np.float64) for a in (array, array_after, grad))
            decay = -eta * strength * direction(array)
            data = -eta * grad - decay if is_weight else -eta * grad  # the biases' gradient has no decay
            rounding = eps * (np.linalg.norm(array_after) + eta * np.linalg.norm(grad))
            fits.append(_fit(array_after - array, [data, decay] if regularised else [data], rounding))
        if None in fits:
            return None
        terms.append(StepTerms(layer, *fits[0], *fits[1]))
    return terms


def _fit(step, terms: list, rounding: float) -> tuple[float | None, float | None] | None:
    """The multiples of `terms` (one or two) whose sum is `step`, by least squares: None where the fit
    leaves more than FIT_ROUNDING times `rounding` (the parameters' and the gradient's rounding, eps
    times their norms); a multiple None where its term is too small for the step to tell it to
    RATIO_TOLERANCE (its standard error, from what the fit leaves, over a third of that), and the
    second None where there is one term."""
    basis = np.stack([term.ravel() for term in terms], axis=1)
    coefficients = np.linalg.lstsq(basis, step.ravel(), rcond=None)[0]
    left = np.linalg.norm(step.ravel() - basis @ coefficients)
    if left > FIT_ROUNDING * rounding:
        return None
    spread = left / np.sqrt(max(step.size - len(terms), 1))  # each entry's, to rounding
    known = []
    for i, term in enumerate(terms):
        own = _own_part(term, [other for j, other in enumerate(terms) if j != i])
        known.append(float(coefficients[i]) if own > 0 and spread <= own * RATIO_TOLERANCE / 3 else None)
    return known[0], (known[1] if len(known) > 1 else None)


def _own_part(term, others: list) -> float:
    """The norm of the part of `term` that no multiple of the others makes (at most one other)."""
    for other in others:
        if np.any(other):
            term = term - (np.vdot(term, other) / np.vdot(other, other)) * other
    return float(np.linalg.norm(term))


def step_findings(terms: list[StepTerms], training, n: int, m: int) -> list[str]:
    """What each term of the step has that the book's has not, named (n the training set's size, m the
    mini-batch's); a finding that holds in some layers only says which."""
    layers_of = {}  # each finding: the layers it holds in
    for term in terms:
        for finding in _layer_findings(term, training, n, m):
            layers_of.setdefault(finding, []).append(term.layer)
    return [
        finding
        if len(layers) == len(terms)
        else f"{finding} (layer{'s' if len(layers) > 1 else ''} {', '.join(str(layer) for layer in layers)})"
        for finding, layers in layers_of.items()
    ]


def _layer_findings(term: StepTerms, training, n: int, m: int) -> list[str]:
    gradient_w, decay_w, gradient_b, decay_b = term.gradient_w, term.decay_w, term.gradient_b, term.decay_b
    weights_scaled = _differs(gradient_w, 1.0)
    biases_scaled = _differs(gradient_b, 1.0)
    findings = []
    if weights_scaled and biases_scaled and not _differs(gradient_w, gradient_b):
        findings.append(_scale_finding("the step of the weights and the biases", gradient_w, m))
    else:
        findings += [_scale_finding("the weights' step", gradient_w, m)] if weights_scaled else []
        findings += [_scale_finding("the biases' step", gradient_b, m)] if biases_scaled else []
    whole_step = weights_scaled and decay_w is not None and not _differs(decay_w, gradient_w)
    if decay_w is not None and _differs(decay_w, 1.0) and not whole_step:
        findings.append(_decay_finding(decay_w, training, n, m))
    if decay_b is not None and _differs(decay_b, 0.0):
        findings.append(_bias_decay_finding(decay_b, training, n))
    return findings


def _differs(coefficient: float | None, book: float) -> bool:
    """Whether a term's multiple is other than `book` to two digits (None, one the step cannot tell, is not)."""
    return coefficient is not None and abs(coefficient - book) > RATIO_TOLERANCE * max(1.0, abs(book))


SGD_RULES = {  # ch. 1's step of each, the gradient the mean over the mini-batch's m examples
    "the weights' step": "W <- W - (eta / m) sum_x dC_x/dW",
    "the biases' step": "b <- b - (eta / m) sum_x dC_x/db",
    "the step of the weights and the biases": "W <- W - (eta / m) sum_x dC_x/dW and b <- b - (eta / m) sum_x dC_x/db",
}


def _scale_finding(subject: str, ratio: float, m: int) -> str:
    """The gradient's term of a step, `ratio` times the book's: m (no 1/m), -1 (the wrong sign) or another."""
    if m > 1 and not _differs(ratio, m):
        return f"{subject} is m = {m} times the book's: the mean over the mini-batch without its 1/m ({SGD_RULES[subject]}, ch. 1)"
    if not _differs(ratio, -1.0):
        return f"{subject} has the wrong sign: it climbs the gradient where {SGD_RULES[subject]} (ch. 1) descends it"
    return f"{subject} is {_ratio(ratio)} times the right one: eta or 1/m ({SGD_RULES[subject]}, ch. 1)"


REGULARISER_STEPS = {  # each regulariser's step of the weights (ch. 3), and the same with the wrong sign
    "l2": ("L2's weight decay", "w <- (1 - eta lambda / n) w", "w <- (1 + eta lambda / n) w"),
    "l1": ("L1's step", "w <- w - (eta lambda / n) sgn(w), sgn(0) = 0", "w <- w + (eta lambda / n) sgn(w)"),
}


def _decay_finding(ratio: float, training, n: int, m: int) -> str:
    """The regulariser's term of the weights' step, `ratio` times the book's."""
    name, rule, turned = REGULARISER_STEPS[training.regularizer]
    if not _differs(ratio, -1.0):
        return f"{name} has the wrong sign: {turned} where ch. 3 has {rule}, with n the whole training set's size"
    if not _differs(ratio, 0.0):
        return f"the weights' step leaves out {name}, {rule} (ch. 3)"
    implied = n / ratio
    return (
        f"{name}, {rule} (ch. 3), with n the whole training set's size ({n:,}); this port's step implies "
        f"n = {implied:.4g}" + (", the mini-batch's size" if not _differs(implied / m, 1.0) else "")
    )


def _bias_decay_finding(ratio: float, training, n: int) -> str:
    """The regulariser's step applied to the biases, `ratio` times the book's weights' one."""
    name = REGULARISER_STEPS[training.regularizer][0]
    on_b = "(1 - eta lambda / n)" if training.regularizer == "l2" else "- (eta lambda / n) sgn(b)"
    implied = "" if not _differs(ratio, 1.0) else f", with n = {n / ratio:.4g}"
    return f"{name} applied to the biases{implied}: {on_b} on b; the book's rule leaves b out (ch. 3)"


def _ratio(ratio: float) -> str:
    """A ratio to two digits: 3.0, 0.33."""
    return f"{ratio:.1f}" if abs(ratio) >= 1 else f"{ratio:.2g}"


def l1_without_sign(before, after, gradient, training, n: int) -> str | None:
    """What an L1 step that is no sum of the book's terms is, where it is one with w in the place of sgn(w):
    each layer's weights fitted as a (-eta g) + c (-eta (lambda / n) w), g the gradient less L1's term, with
    a = 1; None where some layer's step is not such a sum."""
    eta, strength, eps = training.eta, training.lmbda / n, float(np.finfo(training.dtype).eps)
    multiples = []
    for start, end, grads in zip(before, after, gradient):
        w, w_after, grad_w = (np.asarray(array[0], dtype=np.float64) for array in (start, end, grads))
        data = -eta * (grad_w - strength * np.sign(w))
        rounding = eps * (np.linalg.norm(w_after) + eta * np.linalg.norm(grad_w))
        fit = _fit(w_after - w, [data, -eta * strength * w], rounding)
        if fit is None or fit[1] is None or _differs(fit[0], 1.0):
            return None
        multiples.append(fit[1])
    times = "" if not any(_differs(c, 1.0) for c in multiples) else f"{_ratio(float(np.mean(multiples)))} "
    return (
        f"L1's step is proportional to w, not to its sign: w <- w - {times}(eta lambda / n) w, L2's weight decay, "
        "where ch. 3's L1 rule is w <- w - (eta lambda / n) sgn(w), sgn(0) = 0"
    )
