"""The checks: gradients against the reference and against finite differences, and training runs.

Each check runs one configuration in every backend from the same parameters, the same batch
and the same dropout masks (all drawn from the shared streams), then compares every pair of
backends. What comes out is a list of `Result`s, one per (configuration, check, pair), each
with the worst relative difference found and the bound it is held to (conformance.tolerances).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from . import layer_speeds, tolerances
from .backends import REFERENCE
from .contract import check_layout
from .matrix import GRADIENT_TRAINING_SIZE, EnsembleCase, GradientCase, PerceptronCase, TrajectoryCase
from .streams import batch_bounds, dither_generator, epoch_plan, initial_parameters
from .training import evaluate, prepare_data

FINITE_DIFFERENCE_STEP = 1e-3
COORDINATES_PER_ARRAY = 12  # finite differences check this many entries of each W and b
EVALUATED_AFTER_STEPS = 1000  # validation and test images a dropout net is evaluated on after its first steps
CONVERGED = 1e-8  # a finite difference is trusted when its truncation and rounding errors are below this
FINITE_DIFFERENCES = "finite differences"
TRUTH_TABLE = "truth table"
PERCEPTRON_OUTPUTS = "outputs"


@dataclass(frozen=True)
class Result:
    case: str  # the configuration
    check: str  # what was compared: "gradient", "first steps", "one epoch", "correct counts"
    pair: str  # "torch vs numpy", or "numpy vs finite differences"
    dtype: str
    value: float  # the worst relative difference (for correct counts: the largest count difference)
    bound: float
    detail: dict = field(default_factory=dict)
    not_applicable: str = ""  # why this check could say nothing here (neither passed nor failed)

    @property
    def passed(self) -> bool:
        return bool(self.not_applicable or (np.isfinite(self.value) and self.value <= self.bound))

    def to_dict(self) -> dict:
        return {
            "case": self.case,
            "check": self.check,
            "pair": self.pair,
            "dtype": self.dtype,
            "value": self.value,
            "bound": self.bound,
            "passed": self.passed,
            "not_applicable": self.not_applicable,
            **self.detail,
        }


def relative_difference(params, reference_params) -> float:
    """max over parameter arrays of ||a - b|| / ||b|| (0 when both are 0, inf when only b is)."""
    worst = 0.0
    for layer, reference_layer in zip(params, reference_params):
        for a, b in zip(layer, reference_layer):
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            difference, size = np.linalg.norm(a - b), np.linalg.norm(b)
            worst = max(worst, difference / size if size > 0 else (0.0 if difference == 0 else np.inf))
    return float(worst)


def backend_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(later, earlier) for every pair, the earlier one being the norm: torch vs numpy, jax vs numpy, jax vs torch."""
    return [(later, earlier) for earlier, later in itertools.combinations(names, 2)]


# -- perceptrons -------------------------------------------------------------------------------

BIT_PAIRS = (np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0]))  # x1, x2: every pair of bits


def perceptron_outputs(backend, x1, x2) -> np.ndarray:
    """A backend's NAND gate and adder on bits x1, x2 (on the CPU): rows NAND, sum, carry, as NumPy."""
    x1, x2 = backend.asarray(x1), backend.asarray(x2)
    return np.array(
        [np.asarray(output) for output in (backend.perceptron.nand(x1, x2), *backend.perceptron.add_bits(x1, x2))]
    )


def truth_table(x1, x2) -> np.ndarray:
    """What NAND, the sum bit (XOR) and the carry bit (AND) of x1 and x2 are: rows NAND, sum, carry."""
    both = x1 * x2
    return np.array([1.0 - both, x1 + x2 - 2.0 * both, both])


def check_perceptrons(case: PerceptronCase, backends: dict) -> list[Result]:
    """Every backend's perceptron outputs against every other's, and the reference's against the truth
    table: the number of the 12 outputs (NAND, sum, carry on 4 input pairs) that differ, which must be 0.
    A backend without the optional `perceptron` module is not applicable, not failed."""
    outputs = {
        name: perceptron_outputs(backend, *BIT_PAIRS)
        for name, backend in backends.items()
        if hasattr(backend, "perceptron")
    }
    outputs[TRUTH_TABLE] = truth_table(*BIT_PAIRS)
    pairs = backend_pairs(list(backends)) + ([(REFERENCE, TRUTH_TABLE)] if REFERENCE in backends else [])
    results = []
    for a, b in pairs:
        missing = [name for name in (a, b) if name not in outputs]
        value = float("nan") if missing else float(np.count_nonzero(outputs[a] != outputs[b]))
        why = f"{missing[0]} has no perceptron module (optional in the contract)" if missing else ""
        results.append(
            Result(
                case.name,
                PERCEPTRON_OUTPUTS,
                f"{a} vs {b}",
                case.dtype,
                value,
                tolerances.PERCEPTRON_BITS,
                not_applicable=why,
            )
        )
    return results


# -- gradients --------------------------------------------------------------------------------


def check_gradients(case: GradientCase, backends: dict, training_split, device: str, seed: int = 0) -> list[Result]:
    """Every backend's gradient of a batch's regularised mean cost, pair by pair, and the
    reference's against finite differences (float64)."""
    spec = case.spec()
    split = training_split.first(GRADIENT_TRAINING_SIZE)
    params = gradient_check_parameters(backends[REFERENCE], spec, split, seed)
    x, y, masks = first_batch(spec, split, seed)
    n = len(split)
    grads = {}
    for name, backend in backends.items():
        grads[name] = backend.Model(spec, params, _device(name, device)).gradients(x, y, masks, n)
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


def gradient_check_parameters(reference, spec, split, seed):
    """The parameters the gradients are compared at: the initial ones, or where a layer starts at 0
    (network3's softmax layer, which makes every other layer's gradient exactly 0) the reference's
    parameters after one SGD step on the epoch's second mini-batch."""
    params = initial_parameters(spec.network, seed)
    if not any(spec.network.starts_at_zero):
        return params
    model = reference.Model(spec, params)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(reference.asarray, split.images, split.labels, n_classes, spec.training.dtype)
    second_step = epoch_plan(spec, len(split), 1, seed).one_step(1, spec.training.batch_size)
    model.train_epoch(data, second_step, spec.training.eta)
    return model.parameters()


def first_batch(spec, split, seed):
    """The first mini-batch of epoch 1 from the shared streams: float64 inputs, one-hot outputs, masks."""
    plan = epoch_plan(spec, len(split), 1, seed)
    rows = plan.order[: spec.training.batch_size]
    x = np.asarray(split.images[rows], dtype=np.float64)
    y = np.eye(spec.network.layers[-1].size)[split.labels[rows]]
    masks = [None if mask is None else mask[: len(rows)] for mask in plan.masks]
    return x, y, masks


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


# -- training trajectories --------------------------------------------------------------------


@dataclass
class _Run:
    """What one backend did: parameters after each of the first steps, after the epoch, and its counts."""

    after_step: list
    after_epoch: list | None = None
    correct: dict = field(default_factory=dict)
    layer_speeds: list | None = None  # ||dC/db^l|| of each hidden layer after the first steps
    from_reference: list | None = None  # float32: each step taken from the reference's parameters before it
    correct_at_reference: dict | None = None  # float32: the counts of the reference's own parameters


def check_trajectory(
    case: TrajectoryCase, backends: dict, splits: dict, device: str, steps: int, whole_epoch: bool, seed: int = 0
) -> list[Result]:
    """Train `steps` single steps, then (if asked) one whole epoch afresh, in every backend, from
    the same initial parameters, batch order and masks; compare pair by pair.

    In float32 each step is also taken from the reference's parameters before it, and the
    reference's parameters are evaluated by every backend: those are what the first steps and the
    counts are held to (conformance.tolerances says why).
    """
    spec = case.spec()
    training = splits["training"]
    if spec.data.train_size is not None:
        training = training.first(spec.data.train_size)
    params = initial_parameters(spec.network, seed)
    plan = epoch_plan(spec, len(training), 1, seed)
    runs = {
        name: _run(backend, spec, params, plan, training, splits, _device(name, device), steps, whole_epoch)
        for name, backend in backends.items()
    }
    if case.dtype == "float32" and REFERENCE in backends:
        for name, backend in backends.items():
            _from_reference(runs[name], runs[REFERENCE], backend, spec, params, plan, training, splits, device)
    if case.layer_speeds:
        for name, run in runs.items():
            model = backends[name].Model(spec, run.after_step[-1], _device(name, device))
            run.layer_speeds = layer_speeds.measure(model, spec, training, len(training))
    sensitivity = {}
    if whole_epoch and REFERENCE in backends:
        sensitivity = rounding_sensitivity(backends[REFERENCE], spec, params, plan, training, runs[REFERENCE], seed)
    results = []
    for a, b in backend_pairs(list(backends)):
        results += _compare_runs(case, (a, b), runs, splits, sensitivity)
    return results


def _from_reference(run: _Run, reference_run: _Run, backend, spec, params, plan, training, splits, device) -> None:
    """Each of the first steps again, from the reference's parameters before it; and the reference's
    parameters (after the epoch, or for a net with dropout after the steps) evaluated. The reference's
    own are its run (a Model resumes bitwise from its parameters: the contract)."""
    if run is reference_run:
        run.from_reference, run.correct_at_reference = run.after_step, (run.correct or None)
        return
    device = _device(backend.NAME, device)
    n_classes, dtype, eta = spec.network.layers[-1].size, spec.training.dtype, spec.training.eta
    data = prepare_data(backend.asarray, training.images, training.labels, n_classes, dtype, device)
    starts = [params] + reference_run.after_step[:-1]
    run.from_reference = []
    for step, start in enumerate(starts):
        model = backend.Model(spec, start, device)
        model.train_epoch(data, plan.one_step(step, spec.training.batch_size), eta)
        run.from_reference.append(_parameters(model, backend, spec))
    if run.correct:
        whole_epoch = reference_run.after_epoch is not None
        evaluated = reference_run.after_epoch if whole_epoch else reference_run.after_step[-1]
        model = backend.Model(spec, evaluated, device)
        run.correct_at_reference = correct_counts(backend, model, spec, evaluated_splits(splits, whole_epoch), device)


def rounding_sensitivity(reference, spec, params, plan, training, reference_run: _Run, seed: int = 0) -> dict:
    """How far the reference's own epoch moves when it is perturbed by about one ulp (of the training
    dtype): {"rounding_sensitivity": the largest move, "perturbed_runs": each run's move}.

    Training amplifies rounding differences, by a factor that depends on the run (and the seed):
    this is the yardstick for a difference between backends after an epoch. Two backends that
    round differently cannot be expected to agree much better than this. In float64 the
    yardstick is one run, every initial weight moved up by one ulp. In float32 a max-pooling net
    meets windows whose two largest entries are a few ulps apart, where the rounding decides the
    maximum and the gradient jumps; whether a perturbed run meets one is chance, so float32 takes
    the largest of several: the initial weights moved up and down, and DITHERED_RUNS runs whose
    every parameter moves one ulp, in a direction drawn from the seed, after every step (as a
    backend that rounds differently at every step would).
    """
    dtype = np.dtype(spec.training.dtype)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(reference.asarray, training.images, training.labels, n_classes, spec.training.dtype)
    eps = np.finfo(dtype).eps
    nudges = {"initial weights x (1 + eps)": 1 + eps}
    if dtype == np.float32:
        nudges["initial weights x (1 - eps)"] = 1 - eps
    moved = {}
    for name, factor in nudges.items():
        model = reference.Model(spec, [(w.astype(dtype) * dtype.type(factor), b) for w, b in params])
        model.train_epoch(data, plan, spec.training.eta)
        moved[name] = relative_difference(model.parameters(), reference_run.after_epoch)
    if dtype == np.float32:
        for run in range(tolerances.DITHERED_RUNS):
            after = _dithered_epoch(reference, spec, params, plan, data, dither_generator(seed, run))
            moved[f"every parameter 1 ulp after every step (draw {run + 1})"] = relative_difference(
                after, reference_run.after_epoch
            )
    return {"rounding_sensitivity": max(moved.values()), "perturbed_runs": moved}


def _dithered_epoch(reference, spec, params, plan, data, rng):
    """The reference's epoch, one step at a time, each parameter moved one ulp up or down (as `rng`
    draws) after every step."""
    dtype, batch_size = np.dtype(spec.training.dtype), spec.training.batch_size
    model = reference.Model(spec, params)
    for step in range(len(batch_bounds(len(plan.order), batch_size))):
        model.train_epoch(data, plan.one_step(step, batch_size), spec.training.eta)
        model.load([tuple(_one_ulp(array.astype(dtype), rng) for array in layer) for layer in model.parameters()])
    return model.parameters()


def _one_ulp(array: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each entry moved to its neighbour up or down in its own dtype, each way with probability 1/2."""
    towards = np.where(rng.random(array.shape) < 0.5, -np.inf, np.inf).astype(array.dtype)
    return np.nextafter(array, towards)


def _compare_runs(case: TrajectoryCase, names: tuple[str, str], runs: dict, splits: dict, sensitivity: dict):
    """Two backends' runs: the first steps, one by one; where an epoch was run, its parameters
    (shown beside the reference's rounding sensitivity); and the correct counts, after the epoch
    or, for a net with dropout, after the first steps. In float32 the steps held to the bound are
    those from the reference's parameters, and the counts those of the reference's parameters; the
    free-running ones are kept beside them, to show how the difference grows."""
    pair, run, reference_run = f"{names[0]} vs {names[1]}", runs[names[0]], runs[names[1]]
    free_running = [relative_difference(a, b) for a, b in zip(run.after_step, reference_run.after_step)]
    detail = {"per_step": free_running}
    if run.from_reference is not None:
        per_step = [relative_difference(a, b) for a, b in zip(run.from_reference, reference_run.from_reference)]
        detail = {"per_step": per_step, "free_running": free_running}
    steps = f"first {len(free_running)} steps"
    results = [
        Result(case.name, steps, pair, case.dtype, max(detail["per_step"]), tolerances.STEPS[case.dtype], detail)
    ]
    if run.layer_speeds is not None:
        speeds = {"layer_speeds": {name: runs[name].layer_speeds for name in names}}
        value = relative_difference(  # layer by layer: the worst |a - b| / |b| over the hidden layers
            [(np.array([speed]),) for speed in run.layer_speeds],
            [(np.array([speed]),) for speed in reference_run.layer_speeds],
        )
        results.append(Result(case.name, "layer speeds", pair, case.dtype, value, tolerances.STEPS[case.dtype], speeds))
    if run.after_epoch is not None:
        epoch = relative_difference(run.after_epoch, reference_run.after_epoch)
        bound = tolerances.epoch_bound(case.dtype, sensitivity.get("rounding_sensitivity"))
        results.append(Result(case.name, "one epoch", pair, case.dtype, epoch, bound, sensitivity))
    if not run.correct:
        return results
    evaluated = evaluated_splits(splits, run.after_epoch is not None)
    counts = {"correct": {name: runs[name].correct for name in names}}
    checked = {name: runs[name].correct for name in names}
    if run.correct_at_reference is not None:
        checked = {name: runs[name].correct_at_reference for name in names}
        counts["correct_at_reference_parameters"] = checked
    differences = [abs(checked[names[0]][split] - checked[names[1]][split]) for split in checked[names[0]]]
    allowed = min(int(tolerances.CORRECT_COUNT_SHARE[case.dtype] * len(evaluated[split])) for split in evaluated)
    results.append(Result(case.name, "correct counts", pair, case.dtype, max(differences), allowed, counts))
    return results


def _run(backend, spec, params, plan, training, splits, device, steps, whole_epoch) -> _Run:
    n_classes, dtype, eta = spec.network.layers[-1].size, spec.training.dtype, spec.training.eta
    data = prepare_data(backend.asarray, training.images, training.labels, n_classes, dtype, device)
    model = backend.Model(spec, params, device)
    after_step = []
    for step in range(steps):
        model.train_epoch(data, plan.one_step(step, spec.training.batch_size), eta)
        after_step.append(_parameters(model, backend, spec))
    run = _Run(after_step)
    if whole_epoch:
        model = backend.Model(spec, params, device)
        model.train_epoch(data, plan, eta)
        run.after_epoch = _parameters(model, backend, spec)
    if whole_epoch or spec.network.has_dropout:
        run.correct = correct_counts(backend, model, spec, evaluated_splits(splits, whole_epoch), device)
    return run


def evaluated_splits(splits: dict, whole_epoch: bool) -> dict:
    """The validation and test sets a run is evaluated on: all of them after a whole epoch; after the
    first steps (a net with dropout, whose inference is not its training), their first images."""
    return {
        name: splits[name] if whole_epoch else splits[name].first(EVALUATED_AFTER_STEPS)
        for name in ("validation", "test")
    }


def correct_counts(backend, model, spec, splits: dict, device) -> dict[str, int]:
    """The model's correct count on each of `splits`."""
    n_classes, dtype = spec.network.layers[-1].size, spec.training.dtype
    counts = {}
    for name, split in splits.items():
        data = prepare_data(backend.asarray, split.images, split.labels, n_classes, dtype, device)
        counts[name] = evaluate(model, data, spec.network)[0]
    return counts


def _parameters(model, backend, spec):
    """The model's parameters, once they are known to be in the canonical layout."""
    params = model.parameters()
    check_layout(params, spec.network.parameter_shapes, backend.NAME, "Model.parameters")
    return params


def _device(backend_name: str, device: str) -> str:
    """The reference always runs on the CPU; the other backends on the device asked for."""
    return "cpu" if backend_name == REFERENCE else device


# -- an ensemble trained as one ----------------------------------------------------------------


def check_ensemble(case: EnsembleCase, backends: dict, splits: dict, device: str, seed: int = 0) -> list[Result]:
    """Each member of an ensemble trained as one computation (a backend's `Ensemble`, members from seeds
    seed, seed + 1, ...) against the same member trained alone by the backend's Model, after one epoch.

    The two run the same arithmetic in another arrangement (batched over the members, say), so they
    are held to the first-steps bound: bitwise, or within rounding.
    """
    spec = case.spec()
    training = splits["training"].first(spec.data.train_size)
    seeds = [seed + i for i in range(case.members)]
    members = [initial_parameters(spec.network, member_seed) for member_seed in seeds]
    plans = [epoch_plan(spec, len(training), 1, member_seed) for member_seed in seeds]
    etas = [spec.training.eta] * case.members
    n_classes, dtype = spec.network.layers[-1].size, spec.training.dtype
    results = []
    for name, backend in backends.items():
        if not hasattr(backend, "Ensemble"):
            continue
        data = prepare_data(backend.asarray, training.images, training.labels, n_classes, dtype, _device(name, device))
        ensemble = backend.Ensemble(spec, members, _device(name, device))
        ensemble.train_epoch(data, plans, etas)
        per_member = []
        for params, plan, together in zip(members, plans, ensemble.parameters()):
            check_layout(together, spec.network.parameter_shapes, backend.NAME, "Ensemble.parameters")
            alone = backend.Model(spec, params, _device(name, device))
            alone.train_epoch(data, plan, spec.training.eta)
            per_member.append(relative_difference(together, alone.parameters()))
        detail = {"per_member": per_member, "bitwise": max(per_member) == 0.0}
        pair = f"{name} ensemble vs alone"
        results.append(
            Result(case.name, "members, one epoch", pair, dtype, max(per_member), tolerances.STEPS[dtype], detail)
        )
    return results
