"""`nndl conform --explain`: for every failing check, where two backends part, and which of the
book's equations to read again.

Layers are numbered from the input, layer 1 being the first with weights and layer L the output
layer, as the book's delta^l and W^l are.

- A gradient: the difference broken down by layer and by array (dC/dW, dC/db): the largest
  absolute difference, the relative one, and how many entries changed sign. What agrees says as
  much as what differs. dC/dW = delta a^T (BP4) and dC/db = delta (BP3) are made from the same
  delta, so a layer whose dC/db is off while its dC/dW agrees has the right delta: BP3 broke there.
  The highest layer whose dC/db and dC/dW are both off is where the error enters delta: BP1 if
  that is the output layer, else BP2 through the weights of the layer above; the layers below
  inherit it through BP2. If only dC/dW is off, the biases fine, the suspects are BP4 and the
  regulariser's term of the gradient. In a dense net, the first wrong delta is then said as a factor of
  the right one where a learner's slip fits it: sigma'(a^l) for sigma'(z^l), the quadratic cost's sigma'(z^L)
  in the cross-entropy's BP1, the mean's 1/m left out (conformance/suite/explain_deltas.py).
- The first steps of training: the first step beyond the bound is replayed from the reference's
  parameters before it, in both backends. If their gradients differ there, they are explained as
  above. If not, the step itself is: each port's step is fitted to the book's terms and what
  differs is named by its ratio (conformance/suite/step_terms.py); where the fit leaves more than
  rounding, an L1 step is tried with w in the place of sgn(w) (step_terms.l1_without_sign), and else the
  step is only located: weights off with the biases fine, or the whole SGD update.
- A max-pooling net whose free-running runs part (their difference jumps ten times from one step
  to the next): the step is replayed from the reference's parameters, the reference's max-pool
  windows whose two largest entries are a few ulps apart are listed (reference/ties.py), and those
  that, decided the other way, turn the reference's gradient into the other backend's are named
  (conformance/suite/tie_flips.py): a tie flip, rounding and not an error. For a failing epoch, and (`explain_partings`)
  for float32 runs whose checks pass but whose free-running steps part.
- Correct counts: both backends evaluate the same parameters. If they disagree there, it is
  inference, which for a net with dropout differs from training by dropout's scaling.

A check that failed because a port's method raised or declined is not explained: its own line says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.backend.registry import REFERENCE
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.suite import explain_conv, explain_deltas, tie_flips, tolerances
from conformance.suite.case_data import CaseData
from conformance.suite.gradients import FINITE_DIFFERENCES, first_batch, gradient_check_parameters, step_batch
from conformance.suite.matrix import GRADIENT_TRAINING_SIZE
from conformance.suite.perceptrons import PERCEPTRON_OUTPUTS
from conformance.suite.results import Result, device_for, relative_difference
from conformance.suite.step_terms import l1_without_sign, step_findings, step_terms
from conformance.suite.trajectories import EVALUATED_AFTER_STEPS

JUMP = 10  # a free-running difference this many times the step before's: where two runs part

OUTPUT_ERRORS = {  # BP1 for each cost, with its output layer's activation
    "quadratic": "delta^L = (a^L - y) * sigma'(z^L)",
    "cross_entropy": "delta^L = a^L - y (sigma' cancels)",
    "log_likelihood": "delta^L = a^L - y (softmax with the log-likelihood)",
}
DROPOUT_SCALING = (
    "training steps agree, evaluation differs: the inference scaling of dropout (ch. 3, 'dropout': "
    "weights scaled by 1 - p; network3 multiplies W x by 1 - p in a layer whose input had dropout p)"
)


@dataclass(frozen=True)
class ArrayDifference:
    """How one array (a gradient's or parameters') of one backend differs from another's."""

    layer: int  # 1 for the first layer with weights
    array: str  # "dC/dW", "dC/db", "W" or "b"
    largest: float  # max |a - b| over the entries
    relative: float  # ||a - b|| / ||b||
    sign_flips: float  # the share of entries, among those where b != 0, whose sign differs
    fine: bool  # the relative difference is within the check's bound
    nan: int = 0  # how many entries of a are NaN
    size: int = 0  # of how many

    def describe(self) -> str:
        if self.fine:
            return f"{self.array} fine"
        if self.nan:
            return f"{self.array} NaN in {self.nan} of {self.size} entries"
        return (
            f"{self.array} {self.largest:.1e} off (relative {self.relative:.1e}, "
            f"the sign flipped in {100 * self.sign_flips:.0f}% of entries)"
        )


def array_differences(values, reference_values, bound: float, names=("dC/dW", "dC/db")) -> list[ArrayDifference]:
    """Each layer's arrays of `values` against `reference_values` (canonical (W, b) pairs)."""
    differences = []
    for layer, (pair, reference_pair) in enumerate(zip(values, reference_values), start=1):
        for name, a, b in zip(names, pair, reference_pair):
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            gap, size = np.linalg.norm(a - b), np.linalg.norm(b)
            relative = gap / size if size > 0 else (0.0 if gap == 0 else np.inf)
            nonzero = b != 0
            flips = float(np.mean(np.sign(a[nonzero]) != np.sign(b[nonzero]))) if nonzero.any() else 0.0
            largest = float(np.max(np.abs(a - b))) if a.size else 0.0
            nan = int(np.count_nonzero(np.isnan(a)))
            differences.append(
                ArrayDifference(layer, name, largest, float(relative), flips, relative <= bound, nan, a.size)
            )
    return differences


def layer_lines(differences: list[ArrayDifference], n_layers: int) -> list[str]:
    """'layer 2: dC/dW 3.1e-02 off (...); dC/db fine', from the output layer down."""
    lines = []
    for layer in range(n_layers, 0, -1):
        arrays = [d for d in differences if d.layer == layer]
        name = f"layer {layer}{' (output)' if layer == n_layers else ''}"
        text = "fine" if all(d.fine for d in arrays) else "; ".join(d.describe() for d in arrays)
        lines.append(f"{name}: {text}")
    return lines


def gradient_culprit(differences: list[ArrayDifference], spec) -> str:
    """The equation the first wrong gradient comes from (see the module's docstring)."""
    layers = spec.network.layers
    off = {(d.layer, d.array) for d in differences if not d.fine}
    biases_off = sorted(layer for layer, array in off if array == "dC/db")
    wrong_deltas = [layer for layer in biases_off if (layer, "dC/dW") in off]
    culprits = [_delta_culprit(max(wrong_deltas), off, spec)] if wrong_deltas else []
    if wrong_bp3 := [layer for layer in biases_off if layer not in wrong_deltas]:
        culprits.append(_bias_culprit(wrong_bp3, len(layers)))
    if culprits:
        return "; and ".join(culprits)
    weights_off = ", ".join(str(layer) for layer, _ in sorted(off))
    regularizer = spec.training.regularizer
    suspects = "BP4, dC/dW^l = delta^l (a^(l-1))^T"
    if regularizer != "none":
        term = "(lambda / n) w" if regularizer == "l2" else "(lambda / n) sgn(w)"
        suspects += f", or the {regularizer.upper()} term of the gradient, {term} with n the whole training set's size"
    return f"only dC/dW is off (layer {weights_off}), every dC/db fine: {suspects}"


def _delta_culprit(top: int, off: set, spec) -> str:
    """BP1 or BP2, where `top` is the highest layer whose dC/db and dC/dW, both made from delta^top, are off."""
    layers = spec.network.layers
    if top == len(layers):
        return f"the output error is wrong: BP1, {OUTPUT_ERRORS[spec.network.cost]}, and BP3 dC/db^L = delta^L"
    through = "convolution and pooling" if layers[top].type == "conv" else "weights"
    inherited = "; the layers below inherit the error through BP2" if any(layer < top for layer, _ in off) else ""
    return (
        f"delta^{top} is the first wrong delta (dC/db^{top} = delta^{top}, BP3): BP2 through layer {top + 1}'s "
        f"{through}, delta^{top} = ((W^{top + 1})^T delta^{top + 1}) * sigma'(z^{top}){inherited}"
    )


def _bias_culprit(layers: list[int], n_layers: int) -> str:
    """BP3, at the layers whose dC/db is off while their dC/dW, made from the same delta, agrees."""
    if len(layers) == 1:
        (layer,) = layers
        l, below = str(layer), str(layer - 1)
        where = f"layer {layer}{', the output layer' if layer == n_layers else ''}"
    else:
        l, below = "l", "(l-1)"
        where = f"layers {', '.join(str(layer) for layer in layers[:-1])} and {layers[-1]}"
    return (
        f"BP3, dC/db^{l} = delta^{l}, is what broke at {where}: dC/db^{l} is off while dC/dW^{l} = "
        f"delta^{l} (a^{below})^T, from the same delta, agrees, so delta^{l} is right"
    )


# checks that compare no gradients and no steps, so no layer or array to attribute a failure to: what they say
NOTHING_TO_ATTRIBUTE = {
    PERCEPTRON_OUTPUTS: "the perceptrons' outputs differ on some input bits: a forward-only check of chapter 1's "
    "eq. 2 (output 1 where w . x + b > 0); `nndl lesson perceptron` shows the three side by side",
    "members, one epoch": "the members trained as one by the backend's Ensemble part from each trained alone by "
    "its Model; the JSON's per_member says by how much, member by member",
}


def explain_failures(outcome, cases: dict, backends: dict, splits: dict, device: str, seed: int) -> list[str]:
    """An explanation, as lines, of every failing check of `outcome`."""
    lines, data = [], {}  # data: each case's CaseData, shared by all of its explained checks
    for result in outcome.failures:
        if "error" in result.detail:  # a port's method raised or declined: the result's own line says so
            continue
        if result.check in NOTHING_TO_ATTRIBUTE:
            lines += [f"{result.case} ({result.check}, {result.pair}):", f"  {NOTHING_TO_ATTRIBUTE[result.check]}"]
            continue
        case = cases[result.case]
        if result.case not in data:
            data[result.case] = _case_data(case, result.check, splits, device)
        names = result.pair.split(" vs ")
        pair = [backends[n] for n in names if n in backends]  # "finite differences" is not a backend
        reference, case_data = backends[REFERENCE], data[result.case]
        lines.append(f"{result.case} ({result.check}, {result.pair}):")
        if names[1] == FINITE_DIFFERENCES:
            found = ["the reference's own gradient disagrees with finite differences: see the JSON's coordinates"]
        elif result.check == "gradient":
            found = _explain_gradient(case, pair, reference, case_data, device, seed)
        elif result.check.startswith("first "):
            found = _explain_steps(result, case, pair, reference, case_data, device, seed)
        elif result.check == "one epoch":
            found = [_explain_epoch(outcome, result)]
            found += tie_flip_lines(outcome, result, case, pair, reference, splits, device, seed, case_data)
        elif result.check == "layer speeds":
            found = [_explain_layer_speeds(outcome, result)]
        else:
            found = _explain_counts(outcome, result, case, pair, case_data, device, seed)
        lines += [f"  {line}" for line in found]
    return lines


def explain_partings(outcome, cases: dict, backends: dict, splits: dict, device: str, seed: int) -> list[str]:
    """Where the free-running float32 runs of a pair whose checks all pass part (their difference jumps),
    and why: a max-pool near tie decided by rounding is named, not failed (conformance/suite/tolerances.py)."""
    lines, data = [], {}  # data: each case's CaseData, shared by all of its pairs
    for result in outcome.results:
        if "free_running" not in result.detail or not _pair_passes(outcome, result):
            continue
        case = cases[result.case]
        if result.case not in data:
            data[result.case] = _case_data(case, result.check, splits, device)
        pair, reference = [backends[name] for name in result.pair.split(" vs ")], backends[REFERENCE]
        found = tie_flip_lines(outcome, result, case, pair, reference, splits, device, seed, data[result.case])
        if found:
            lines += [f"{result.case} ({result.pair}):", *(f"  {line}" for line in found)]
    return lines


def _case_data(case, check: str, splits: dict, device: str) -> CaseData:
    """The splits the explanations of a case's checks read, each converted once for each backend: a
    gradient check's split; a training run's own split, and the validation images counts are compared on."""
    spec = case.spec()
    if check == "gradient":
        return CaseData(spec, {"training": splits["training"].first(GRADIENT_TRAINING_SIZE)}, device)
    validation = splits["validation"].first(EVALUATED_AFTER_STEPS)
    return CaseData(spec, {"training": _training_split(spec, splits), "validation": validation}, device)


def _pair_passes(outcome, result: Result) -> bool:
    return not any(other.failed for other in outcome.results if (other.case, other.pair) == (result.case, result.pair))


def _steps_agree(outcome, result: Result) -> bool:
    """Whether the first steps of `result`'s training run agreed in its pair."""
    return all(
        other.passed
        for other in outcome.results
        if other.case == result.case and other.pair == result.pair and other.check.startswith("first ")
    )


def _explain_epoch(outcome, result: Result) -> str:
    if not _steps_agree(outcome, result):
        return "the first steps differ already (explained above): the epoch inherits it"
    return (
        "each of the first steps agrees and the epoch does not: a step later in the epoch differs "
        "(the last, shorter mini-batch: its mean divides by its own size), or rounding grows faster "
        f"than {tolerances.EPOCH_SENSITIVITY_FACTOR} x the reference's own one-ulp sensitivity"
    )


def _explain_layer_speeds(outcome, result: Result) -> str:
    if not _steps_agree(outcome, result):
        return "the first steps differ already (explained above): the speeds, measured after them, inherit it"
    return (
        "the parameters after the first steps agree and ||dC/db^l|| does not: the gradient of the mean cost "
        "of 1,000 images, with no dropout masks, differs (see this net's gradient checks: BP1-BP3)"
    )


def _explain_gradient(case, pair: list, reference, data: CaseData, device: str, seed: int) -> list[str]:
    """The gradients of the check again (its parameters, its batch), array by array."""
    spec, split = case.spec(), data.training
    params = gradient_check_parameters(reference, spec, data, seed)
    x, y, masks = first_batch(spec, split, seed)
    grads = [
        backend.Model(spec, params, device_for(backend.NAME, device)).gradients(x, y, masks, len(split))
        for backend in pair
    ]
    differences = array_differences(grads[0], grads[1], tolerances.GRADIENT[case.dtype])
    culprit = _culprit(differences, spec, grads, reference, params, (x, y, masks), len(split))
    return [*layer_lines(differences, len(spec.network.layers)), f"-> {culprit}"]


def _explain_steps(result: Result, case, pair: list, reference, data: CaseData, device: str, seed: int) -> list[str]:
    """Replay the first step beyond the bound from the reference's parameters before it."""
    spec, training = case.spec(), data.training
    per_step = result.detail["per_step"]
    step = next(k for k, value in enumerate(per_step, start=1) if not value <= result.bound)
    plan, batch_size = epoch_plan(spec, len(training), 1, seed), spec.training.batch_size
    params, (x, y, masks) = _reference_before(step, spec, data, reference, seed)
    lines = [
        (
            f"step {step} is the first beyond the bound ({per_step[step - 1]:.1e} > {result.bound:.0e}); "
            "replayed from the reference's parameters before it, on its mini-batch:"
        )
    ]
    grads = [b.Model(spec, params, device_for(b.NAME, device)).gradients(x, y, masks, len(training)) for b in pair]
    differences = array_differences(grads[0], grads[1], tolerances.GRADIENT[case.dtype])
    if not all(d.fine for d in differences):
        lines += ["the gradients differ there:", *layer_lines(differences, len(spec.network.layers))]
        return [*lines, f"-> {_culprit(differences, spec, grads, reference, params, (x, y, masks), len(training))}"]
    stepped = {}  # each backend's gradient and parameters after the step, by name
    for backend, gradient in zip(pair, grads):
        model = backend.Model(spec, params, device_for(backend.NAME, device))
        model.train_epoch(data.dataset(backend), plan.one_step(step - 1, batch_size), spec.training.eta)
        stepped[backend.NAME] = (gradient, model.parameters())
    differences = array_differences(*(after for _, after in stepped.values()), tolerances.STEPS[case.dtype], ("W", "b"))
    lines += [
        f"the gradients agree there (every array within {tolerances.GRADIENT[case.dtype]:g}); the step does not:",
        *layer_lines(differences, len(spec.network.layers)),
    ]
    return [*lines, f"-> {_update_culprit(differences, spec, params, stepped, len(training), len(x))}"]


def _culprit(differences: list[ArrayDifference], spec, grads: list, reference, params, batch, n: int) -> str:
    """The equation behind a gradient that differs: a conv-pool layer's part, where explain_conv finds one
    (testing the reference's `conv_slips`, where it has them, against grads[0]), else gradient_culprit's."""
    slips = getattr(reference, "conv_slips", None)
    slipped = None if slips is None else lambda slip: slips.gradients_with_slip(spec, params, *batch, n, slip)
    bound = tolerances.GRADIENT[spec.training.dtype]
    found = explain_conv.conv_culprit(differences, spec, grads[0], slipped, getattr(slips, "SLIPS", ()), bound)
    if found:
        return found
    top = explain_deltas.first_wrong_delta(differences)
    factor = top and explain_deltas.delta_finding(top, spec, grads[0], reference, params, batch, n)
    return gradient_culprit(differences, spec) + (f"; {factor}" if factor else "")


def _training_split(spec, splits: dict):
    training = splits["training"]
    return training if spec.data.train_size is None else training.first(spec.data.train_size)


def _reference_before(step: int, spec, data: CaseData, reference, seed: int):
    """The reference's parameters before `step` (1 for the first) of its run, and that step's batch:
    (params, (x, y, masks)), x and y in float64 (a Model casts them to its dtype)."""
    plan, batch_size = epoch_plan(spec, len(data.training), 1, seed), spec.training.batch_size
    model = reference.Model(spec, initial_parameters(spec.network, seed))
    for earlier in range(step - 1):
        model.train_epoch(data.dataset(reference), plan.one_step(earlier, batch_size), spec.training.eta)
    return model.parameters(), step_batch(spec, data.training, plan, step - 1)


def tie_flip_lines(
    outcome, result: Result, case, pair: list, reference, splits: dict, device: str, seed: int, data=None
):
    """Where a max-pooling net's free-running runs part: the step where their difference jumps, and the
    reference's max-pool windows whose near tie, decided the other way, gives the other backend's gradient.
    `data`: the case's CaseData, where the caller has one (else one is made from `splits`)."""
    spec, ties = case.spec(), getattr(reference, "ties", None)
    if ties is None or not tie_flips.has_max_pooling(spec):
        return []
    free_running = _free_running(outcome, result)
    step = _parting_step(free_running, spec.training.dtype)
    if step is None:
        return []
    if data is None:
        data = _case_data(case, result.check, splits, device)
    params, batch = _reference_before(step, spec, data, reference, seed)
    n = len(data.training)
    at_reference = reference.Model(spec, params).gradients(*batch, n)
    near = ties.near_ties(spec, params, batch[0], batch[2])
    parting = (
        f"the free-running runs part at step {step} ({free_running[step - 2]:.1e}, then {free_running[step - 1]:.1e}); "
        f"there the reference has {len(near)} max-pool windows whose two largest entries are at most "
        f"{ties.NEAR_TIE_ULPS} ulps apart"
    )
    lines = [parting]
    for backend in pair:
        if backend.NAME != REFERENCE:
            theirs = backend.Model(spec, params, device_for(backend.NAME, device)).gradients(*batch, n)
            lines += _flipped_windows(backend.NAME, step, theirs, at_reference, ties, spec, params, batch, n, near)
    return lines


def _free_running(outcome, result: Result) -> list[float]:
    """The free-running difference after each of the first steps, of `result`'s configuration and pair."""
    for other in outcome.results:
        if (other.case, other.pair) == (result.case, result.pair) and other.check.startswith("first "):
            return other.detail.get("free_running", other.detail["per_step"])
    return []


def _parting_step(free_running: list[float], dtype: str) -> int | None:
    """The first step (1 for the first) whose difference is JUMP times the step before's, if any."""
    floor = np.finfo(dtype).eps  # from bitwise equal runs, a jump must first rise above rounding
    steps = range(2, len(free_running) + 1)
    return next((k for k in steps if free_running[k - 1] > JUMP * max(free_running[k - 2], floor)), None)


def _flipped_windows(name, step, theirs, at_reference, ties, spec, params, batch, n, near) -> list[str]:
    """The near ties that, decided the other way, bring the reference's gradient closer to `theirs`
    (conformance.suite.tie_flips), and how close all of them together bring it."""
    as_it_is = relative_difference(theirs, at_reference)
    if as_it_is <= tolerances.STEPS[spec.training.dtype]:
        return [f"{name} takes the reference's maxima at step {step}: its gradient there within {as_it_is:.1e}"]
    found = tie_flips.flipped_windows(ties, spec, params, batch, n, near, theirs, at_reference)
    flipped, together = found.windows, found.together
    if not flipped:
        unexplained = (
            f"-> from the reference's parameters before step {step}, {name}'s gradient differs from {REFERENCE}'s "
            f"by {as_it_is:.1e}, and no near tie decided the other way explains it: not a tie flip"
        )
        return [unexplained]
    windows = "1 max-pool window" if len(flipped) == 1 else f"{len(flipped)} max-pool windows"
    swapped = f"with {'it' if len(flipped) == 1 else 'them'} decided so"
    if together > as_it_is / 10:
        verdict = (
            f"-> {swapped}, the reference's gradient comes to {together:.1e} of {name}'s ({as_it_is:.1e} as it "
            "is): a near tie explains part of the difference, not all of it"
        )
    else:
        verdict = (
            f"-> {swapped}, the reference's gradient is {name}'s to {together:.1e} ({as_it_is:.1e} as it is): a near "
            "tie decided by the order of the convolution's sums, rounding and not an error in the equations; "
            "training amplifies it from there"
        )
    return [
        f"step {step}: {name} decides {windows} otherwise than {REFERENCE}:",
        *(f"  {window}" for window in found.describe()),
        verdict,
    ]


def _update_culprit(differences: list[ArrayDifference], spec, before, stepped: dict, n: int, m: int) -> str:
    """What a step that starts from the same parameters and gradient, and ends elsewhere, got wrong.

    `before`: the parameters; `stepped`: each backend's (gradient of the regularised cost at `before`,
    parameters after the step), by name; n the training set's size, m the mini-batch's. Every backend
    other than the reference has its step decomposed (`step_terms`) and named by what differs from the
    book's; with no reference in the pair, each is named by its name.
    """
    if all(d.fine for d in differences):
        return (
            "replayed alone, the step agrees: the difference is rounding that grew over the steps "
            "before it (see how it grows, above)"
        )
    ports = {
        name: step_terms(before, after, gradient, spec.training, n)
        for name, (gradient, after) in stepped.items()
        if name != REFERENCE
    }
    if None not in ports.values():  # every port's step is a sum of the book's terms: name what differs
        findings = [
            finding if len(ports) == 1 else f"{name}: {finding}"
            for name, terms in ports.items()
            for finding in step_findings(terms, spec.training, n, m)
        ]
        if findings:
            return "; ".join(findings)
    if spec.training.regularizer == "l1":  # a step with L2's w where L1 has sgn(w)
        found = [
            l1_without_sign(before, after, gradient, spec.training, n)
            for name, (gradient, after) in stepped.items()
            if name != REFERENCE
        ]
        if found and all(found):
            return "; ".join(dict.fromkeys(found))
    if any(not d.fine for d in differences if d.array == "b"):
        return (
            "the SGD update itself, biases too: b <- b - eta dC/db and W <- W - eta dC/dW (ch. 1), "
            "with eta as given and dC/dW, dC/db the mean over the mini-batch (1/m, m the batch's own size)"
        )
    return "only the weights' step is off, every bias fine: the weights' SGD update, W <- W - eta dC/dW (ch. 1)"


def _explain_counts(outcome, result: Result, case, pair: list, data: CaseData, device: str, seed: int) -> list[str]:
    """Evaluate the same parameters (the seed's initial ones) in both backends."""
    spec = case.spec()
    params = initial_parameters(spec.network, seed)
    split = data.splits["validation"]
    evaluated = []
    for backend in pair:
        validation = data.dataset(backend, "validation")
        model = backend.Model(spec, params, device_for(backend.NAME, device))
        evaluated.append(model.evaluate(validation.x, validation.labels, validation.y))
    (correct_a, cost_a), (correct_b, cost_b) = evaluated
    at_same = (
        f"at the same parameters, on {len(split):,} validation images: {correct_a} and {correct_b} correct, "
        f"summed cost {cost_a:.6g} and {cost_b:.6g}"
    )
    if correct_a == correct_b and abs(cost_a - cost_b) <= tolerances.GRADIENT[case.dtype] * abs(cost_b):
        return [at_same, "-> evaluation agrees: the parameters differ, see the epoch's figure and its steps"]
    if spec.network.has_dropout and _steps_agree(outcome, result):
        return [at_same, f"-> {DROPOUT_SCALING}"]
    return [
        at_same,
        "-> evaluation differs: the forward pass at inference, a^l = sigma(W^l a^(l-1) + b^l) (ch. 1, eq. 25)"
        + (", with dropout's scaling by 1 - p (ch. 3)" if spec.network.has_dropout else "")
        + ", or the argmax (the first index wins a tie)",
    ]
