"""Gradients: every backend's gradient of a batch's regularised mean cost against every other's, and
the reference's against finite differences (float64).

The finite differences are Richardson's extrapolation of central differences, trusted entry by
entry only where the cost is smooth within a step and the estimate has converged; the same estimate
checks small nets exhaustively in the tests (`finite_difference_gradients`).
"""

from __future__ import annotations

import numpy as np

from conformance.backend.contract import check_layout
from conformance.backend.registry import REFERENCE
from conformance.data.streams import epoch_plan, initial_parameters
from conformance.suite import tolerances
from conformance.suite.case_data import CaseData
from conformance.suite.matrix import GRADIENT_TRAINING_SIZE, GradientCase
from conformance.suite.results import Result, backend_pairs, device_for, relative_difference

FINITE_DIFFERENCE_STEP = 1e-3
COORDINATES_PER_ARRAY = 12  # finite differences check this many entries of each W and b
CONVERGED = 1e-8  # a finite difference is trusted when its truncation and rounding errors are below this
FINITE_DIFFERENCES = "finite differences"


def check_gradients(case: GradientCase, backends: dict, training_split, device: str, seed: int = 0) -> list[Result]:
    """Every backend's gradient of a batch's regularised mean cost, pair by pair, and the
    reference's against finite differences (float64)."""
    spec = case.spec()
    data = CaseData(spec, {"training": training_split.first(GRADIENT_TRAINING_SIZE)}, device)
    params = gradient_check_parameters(backends[REFERENCE], spec, data, seed)
    x, y, masks = first_batch(spec, data.training, seed)
    n = len(data.training)
    grads = {}
    for name, backend in backends.items():
        grads[name] = backend.Model(spec, params, device_for(name, device)).gradients(x, y, masks, n)
        check_layout(grads[name], spec.network.parameter_shapes, name, "Model.gradients")
    bound = tolerances.GRADIENT[case.dtype]
    results = [
        Result(case.name, "gradient", f"{a} vs {b}", case.dtype, relative_difference(grads[a], grads[b]), bound)
        for a, b in backend_pairs(list(backends))
    ]
    if case.dtype == "float64" and REFERENCE in grads:
        results.append(
            _against_finite_differences(case, spec, backends[REFERENCE], params, x, y, masks, n, grads[REFERENCE], seed)
        )
    return results


def gradient_check_parameters(reference, spec, data: CaseData, seed):
    """The parameters the gradients are compared at: the initial ones, or where a layer starts at 0
    (network3's softmax layer, which makes every other layer's gradient exactly 0) the reference's
    parameters after one SGD step on the epoch's second mini-batch of the case's training split."""
    params = initial_parameters(spec.network, seed)
    if not any(spec.network.starts_at_zero):
        return params
    model = reference.Model(spec, params)
    second_step = epoch_plan(spec, len(data.training), 1, seed).one_step(1, spec.training.batch_size)
    model.train_epoch(data.dataset(reference), second_step, spec.training.eta)
    return model.parameters()


def first_batch(spec, split, seed):
    """The first mini-batch of epoch 1 from the shared streams: float64 inputs, one-hot outputs, masks."""
    return step_batch(spec, split, epoch_plan(spec, len(split), 1, seed), 0)


def step_batch(spec, split, plan, step: int):
    """Mini-batch `step` (0 for the first) of the plan: (x, y, masks), x and y in float64 (a Model casts them)."""
    one = plan.one_step(step, spec.training.batch_size)
    x = np.asarray(split.images[one.order], dtype=np.float64)
    return x, np.eye(spec.network.layers[-1].size)[split.labels[one.order]], one.masks


def _against_finite_differences(case, spec, reference, params, x, y, masks, n, grads, seed) -> Result:
    """The reference's gradient against finite differences, on the entries where they can be trusted.

    An entry is checked when the cost is smooth within a step of it (no ReLU kink, no L1 kink at
    w = 0 in reach) and its finite difference can be trusted (`converged_finite_difference`).
    Where a net's outputs are saturated, or its cost is large, rounding or truncation swamps the
    difference; such entries are counted, not checked, and a configuration with none left says
    so instead of passing. The cost and the weighted inputs z are the reference's own (its network module).
    """
    network = reference.network.Network(spec.network)

    def cost_at(trial):
        with np.errstate(over="ignore"):
            return reference.network.cost(network, spec.training, trial, x, y, masks, n)

    def relu_pattern(trial):
        with np.errstate(over="ignore"):
            zs = reference.network.forward(network, trial, x, masks)[0]
        return [z > 0 for z, layer in zip(zs, spec.network.layers) if layer.activation == "relu"]

    def smooth_near(trial, array, index):
        """Whether the cost is smooth within one step of this entry: no ReLU kink, no |w| kink of L1."""
        if spec.training.regularizer == "l1" and abs(array[index]) <= 2 * FINITE_DIFFERENCE_STEP:
            return False
        if not any(layer.activation == "relu" for layer in spec.network.layers):
            return True
        here, kept = relu_pattern(trial), array[index]
        for shift in (-FINITE_DIFFERENCE_STEP, FINITE_DIFFERENCE_STEP):
            array[index] = kept + shift
            moved = relu_pattern(trial)
            array[index] = kept
            if any((a != b).any() for a, b in zip(here, moved)):
                return False
        return True

    if any(layer.type == "conv" and layer.pooling == "max" and layer.ties == "all" for layer in spec.network.layers):
        return Result(
            case.name,
            "gradient",
            f"{REFERENCE} vs {FINITE_DIFFERENCES}",
            case.dtype,
            float("nan"),
            tolerances.FINITE_DIFFERENCES,
            not_applicable="max pooling's ties = 'all' (network3's rule) is not the derivative at a tied window",
        )
    trial = [(w.copy(), b.copy()) for w, b in params]
    cost_here = cost_at(trial)
    rng = np.random.default_rng(seed)
    worst, checked, unresolved = 0.0, 0, 0
    for trial_layer, grad_layer in zip(trial, grads):
        for array, grad in zip(trial_layer, grad_layer):
            exact, estimates = [], []
            for index in _candidate_indices(grad, rng):
                if len(estimates) == COORDINATES_PER_ARRAY:
                    break
                if not smooth_near(trial, array, index):
                    continue
                estimate, converged = converged_finite_difference(cost_at, trial, array, index, cost_here)
                if not converged:
                    unresolved += 1
                    continue
                exact.append(grad[index])
                estimates.append(estimate)
            if estimates:
                worst = max(worst, relative_difference([(np.array(exact),)], [(np.array(estimates),)]))
            checked += len(estimates)
    return Result(
        case.name,
        "gradient",
        f"{REFERENCE} vs {FINITE_DIFFERENCES}",
        case.dtype,
        worst if checked else float("nan"),
        tolerances.FINITE_DIFFERENCES,
        {"coordinates_checked": checked, "coordinates_unresolved": unresolved},
        "" if checked else "no entry's finite difference could be trusted (saturated outputs, or a cost too large)",
    )


def _candidate_indices(grad, rng, limit=60):
    """Entries to try, the largest |gradient| first (they say the most), then a random sample."""
    largest = np.argsort(-np.abs(grad), axis=None, kind="stable")[: COORDINATES_PER_ARRAY // 2]
    sample = rng.permutation(grad.size)[:limit]
    ordered = dict.fromkeys([*largest.tolist(), *sample.tolist()])
    return [np.unravel_index(i, grad.shape) for i in ordered]


def central_difference(cost_at, params, array, index, step):
    """(C(theta + h) - C(theta - h)) / 2h, theta one entry of one array of params."""
    kept = array[index]
    array[index] = kept + step
    above = cost_at(params)
    array[index] = kept - step
    below = cost_at(params)
    array[index] = kept
    return (above - below) / (2 * step)


def richardson(cost_at, params, array, index, step=FINITE_DIFFERENCE_STEP):
    """Richardson's extrapolation of central differences at h and h/2: the h^2 error terms cancel,
    leaving an error of order h^4 from truncation and eps C / h from rounding."""
    at_h = central_difference(cost_at, params, array, index, step)
    at_half_h = central_difference(cost_at, params, array, index, step / 2)
    return (4 * at_half_h - at_h) / 3


def converged_finite_difference(cost_at, params, array, index, cost_here, step=FINITE_DIFFERENCE_STEP):
    """(Richardson's estimate at h/2, whether finite differences can be trusted for this entry).

    Trusted when two things hold, each to CONVERGED relative to the estimate:
    - truncation: Richardson's estimates at h and at h/2 agree;
    - rounding: eps |C| / (h/4), the rounding error of the finest central difference taken, is
      small. A gradient entry that moves a large cost C by a few ulps cannot be measured this way.
    """
    coarse = richardson(cost_at, params, array, index, step)
    fine = richardson(cost_at, params, array, index, step / 2)
    rounding = np.finfo(np.float64).eps * abs(cost_here) / (step / 4)
    return fine, abs(fine - coarse) <= CONVERGED * abs(fine) and rounding <= CONVERGED * abs(fine)


def finite_difference_gradients(cost_at, params, step=FINITE_DIFFERENCE_STEP):
    """Richardson's estimate of dC/dtheta for every entry of every array of params (small nets only)."""
    estimates = []
    for layer in params:
        layer_estimates = []
        for array in layer:
            estimate = np.zeros_like(array)
            for index in np.ndindex(array.shape):
                estimate[index] = richardson(cost_at, params, array, index, step)
            layer_estimates.append(estimate)
        estimates.append(tuple(layer_estimates))
    return estimates
