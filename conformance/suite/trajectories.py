"""Training trajectories: the first steps, one whole epoch, the correct counts and chapter 5's layer
speeds of one training configuration, in every backend, from the same initial parameters, batch
order and dropout masks, compared pair by pair.

In float32 each step is also taken from the reference's parameters before it, and the reference's
parameters are evaluated by every backend; the epoch is held to the reference's own rounding
sensitivity, measured on perturbed runs of it (conformance.suite.tolerances says why). A float32
step over the bound that a max-pool near tie, decided the other way, explains passes as a tie flip,
recorded in the result's detail (conformance.suite.tie_flips).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from conformance.backend.contract import check_layout
from conformance.backend.registry import REFERENCE
from conformance.data.streams import batch_bounds, dither_generator, epoch_plan, initial_parameters
from conformance.run import layer_speeds
from conformance.run.training import Dataset, evaluate
from conformance.suite import tie_flips, tolerances
from conformance.suite.case_data import CaseData
from conformance.suite.gradients import step_batch
from conformance.suite.matrix import TrajectoryCase
from conformance.suite.results import Result, backend_pairs, device_for, relative_difference

EVALUATED_AFTER_STEPS = 1000  # validation and test images a dropout net is evaluated on after its first steps
EVALUATED = ("validation", "test")  # the splits the correct counts are taken on


@dataclass
class _Run:
    """What one backend did: parameters after each of the first steps, after the epoch, and its counts."""

    after_step: list
    after_epoch: list | None = None
    correct: dict = field(default_factory=dict)
    layer_speeds: list | None = None  # ||dC/db^l|| of each hidden layer after the first steps
    from_reference: list | None = None  # float32: each step taken from the reference's parameters before it
    correct_at_reference: dict | None = None  # float32: the counts of the reference's own parameters
    tie_flips: dict = field(default_factory=dict)  # float32: the steps over the bound a tie flip explains, by index


def check_trajectory(
    case: TrajectoryCase, backends: dict, splits: dict, device: str, steps: int, whole_epoch: bool, seed: int = 0
) -> list[Result]:
    """Train `steps` single steps, then (if asked) one whole epoch afresh, in every backend, from
    the same initial parameters, batch order and masks; compare pair by pair.

    In float32 each step is also taken from the reference's parameters before it, and the
    reference's parameters are evaluated by every backend: those are what the first steps and the
    counts are held to (conformance.suite.tolerances says why). Each backend's splits are converted
    to its arrays once (CaseData) and shared by its runs, its steps from the reference's parameters,
    its counts and the reference's perturbed runs.
    """
    spec = case.spec()
    training = splits["training"]
    if spec.data.train_size is not None:
        training = training.first(spec.data.train_size)
    data = CaseData(spec, {"training": training, **evaluated_splits(splits, whole_epoch)}, device)
    params = initial_parameters(spec.network, seed)
    plan = epoch_plan(spec, len(training), 1, seed)
    runs = {
        name: _run(backend, spec, params, plan, data, device_for(name, device), steps, whole_epoch)
        for name, backend in backends.items()
    }
    if case.dtype == "float32" and REFERENCE in backends:
        for name, backend in backends.items():
            _from_reference(runs[name], runs[REFERENCE], backend, spec, params, plan, data)
            _find_tie_flips(runs[name], runs[REFERENCE], backend, backends[REFERENCE], spec, params, plan, data)
    if case.layer_speeds:
        for name, run in runs.items():
            model = backends[name].Model(spec, run.after_step[-1], device_for(name, device))
            run.layer_speeds = layer_speeds.measure(model, spec, training, len(training))
    sensitivity = {}
    if whole_epoch and REFERENCE in backends:
        reference = backends[REFERENCE]
        sensitivity = rounding_sensitivity(
            reference, spec, params, plan, training, runs[REFERENCE], seed, data.dataset(reference)
        )
    results = []
    for a, b in backend_pairs(list(backends)):
        results += _compare_runs(case, (a, b), runs, splits, sensitivity)
    return results


def _from_reference(run: _Run, reference_run: _Run, backend, spec, params, plan, data: CaseData) -> None:
    """Each of the first steps again, from the reference's parameters before it; and the reference's
    parameters (after the epoch, or for a net with dropout after the steps) evaluated. The reference's
    own are its run (a Model resumes bitwise from its parameters: the contract)."""
    if run is reference_run:
        run.from_reference, run.correct_at_reference = run.after_step, (run.correct or None)
        return
    device = device_for(backend.NAME, data.device)
    starts = [params] + reference_run.after_step[:-1]
    run.from_reference = []
    for step, start in enumerate(starts):
        model = backend.Model(spec, start, device)
        model.train_epoch(data.dataset(backend), plan.one_step(step, spec.training.batch_size), spec.training.eta)
        run.from_reference.append(_parameters(model, backend, spec))
    if run.correct:
        whole_epoch = reference_run.after_epoch is not None
        evaluated = reference_run.after_epoch if whole_epoch else reference_run.after_step[-1]
        model = backend.Model(spec, evaluated, device)
        run.correct_at_reference = correct_counts(model, spec, _evaluated_data(data, backend))


def _find_tie_flips(run: _Run, reference_run: _Run, backend, reference, spec, params, plan, data: CaseData) -> None:
    """The steps from the reference's parameters over the bound that a tie flip explains, into run.tie_flips.

    At such a step the backend's gradient, at the reference's parameters before it, must be the
    reference's with some of its max-pool near ties decided the other way (conformance.suite.tie_flips)
    to the float32 gradient bound, and the backend's step the reference's step down that gradient to
    the step bound. Only for a max-pooling net and a reference with a `ties` module (reference/ties.py).
    """
    ties, bound = getattr(reference, "ties", None), tolerances.STEPS[spec.training.dtype]
    if run is reference_run or ties is None or not tie_flips.has_max_pooling(spec):
        return
    device, n = device_for(backend.NAME, data.device), len(data.training)
    starts = [params] + reference_run.after_step[:-1]
    for step, (start, stepped) in enumerate(zip(starts, run.from_reference)):
        difference = relative_difference(stepped, reference_run.after_step[step])
        if not difference > bound:
            continue
        batch = step_batch(spec, data.training, plan, step)
        theirs = backend.Model(spec, start, device).gradients(*batch, n)
        at_reference = reference.Model(spec, start).gradients(*batch, n)
        near = ties.near_ties(spec, start, batch[0], batch[2])
        flipped = tie_flips.flipped_windows(ties, spec, start, batch, n, near, theirs, at_reference)
        if not flipped.windows or flipped.together > tolerances.GRADIENT[spec.training.dtype]:
            continue
        expected = tie_flips.step_with(start, flipped.gradient, spec.training.eta, spec.training.dtype)
        with_the_flips = relative_difference(stepped, expected)
        if with_the_flips <= bound:
            run.tie_flips[step] = {
                "step": step + 1,
                "windows": flipped.describe(),
                "difference": difference,
                "with_the_flips": with_the_flips,
                "gradient": flipped.as_it_is,
                "gradient_with_the_flips": flipped.together,
            }


def rounding_sensitivity(
    reference, spec, params, plan, training, reference_run: _Run, seed: int = 0, data: Dataset | None = None
) -> dict:
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

    `data` is `training` in the reference's arrays, where the case has made it already.
    """
    dtype = np.dtype(spec.training.dtype)
    if data is None:
        data = CaseData(spec, {"training": training}, "cpu").dataset(reference)
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
    free-running ones are kept beside them, to show how the difference grows, and a step over the
    bound that a tie flip explains is held to the bound with the flip (`_excused_steps`). Where the
    reference alone is chaotic at this seed (tolerances.chaotic), the epoch and its counts are shown,
    neither passed nor failed."""
    pair, run, reference_run = f"{names[0]} vs {names[1]}", runs[names[0]], runs[names[1]]
    free_running = [relative_difference(a, b) for a, b in zip(run.after_step, reference_run.after_step)]
    detail, checked = {"per_step": free_running}, free_running
    if run.from_reference is not None:
        per_step = [relative_difference(a, b) for a, b in zip(run.from_reference, reference_run.from_reference)]
        detail, checked = {"per_step": per_step, "free_running": free_running}, list(per_step)
        flips = _excused_steps(names, runs, per_step, tolerances.STEPS[case.dtype])
        for flip in flips:
            checked[flip["step"] - 1] = flip["with_the_flips"]
        if flips:
            detail["tie_flips"] = flips
    steps = f"first {len(free_running)} steps"
    results = [Result(case.name, steps, pair, case.dtype, max(checked), tolerances.STEPS[case.dtype], detail)]
    if run.layer_speeds is not None:
        speeds = {"layer_speeds": {name: runs[name].layer_speeds for name in names}}
        value = relative_difference(  # layer by layer: the worst |a - b| / |b| over the hidden layers
            [(np.array([speed]),) for speed in run.layer_speeds],
            [(np.array([speed]),) for speed in reference_run.layer_speeds],
        )
        results.append(Result(case.name, "layer speeds", pair, case.dtype, value, tolerances.STEPS[case.dtype], speeds))
    chaotic = tolerances.chaotic(case.dtype, sensitivity.get("rounding_sensitivity"))
    if run.after_epoch is not None:
        epoch = relative_difference(run.after_epoch, reference_run.after_epoch)
        bound = tolerances.epoch_bound(case.dtype, sensitivity.get("rounding_sensitivity"))
        results.append(Result(case.name, "one epoch", pair, case.dtype, epoch, bound, sensitivity, chaotic=chaotic))
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
    chaotic = chaotic if run.after_epoch is not None else ""  # counts after the first steps meet no chaos
    results.append(
        Result(case.name, "correct counts", pair, case.dtype, max(differences), allowed, counts, chaotic=chaotic)
    )
    return results


def _excused_steps(names: tuple[str, str], runs: dict, per_step: list[float], bound: float) -> list[dict]:
    """The steps of a pair over the bound that its backends' tie flips explain, each as
    {"step", "windows", "difference", "with_the_flips", "gradient", "gradient_with_the_flips"} (the
    differences of the steps, and of the gradients at the reference's parameters before them, as they
    are and with the flips; of the larger where both backends flip).

    A backend's distance from the reference at a step is 0 for the reference itself, its step against
    the reference's step with its flips where it has a tie flip there, else its step against the
    reference's. A step is excused where one of the pair has a tie flip and both distances are within
    the bound; "with_the_flips" is the larger distance.
    """
    excused = []
    for step, difference in enumerate(per_step):
        flips = [runs[name].tie_flips[step] for name in names if step in runs[name].tie_flips]
        if not difference > bound or not flips:
            continue
        with_the_flips = max(_distance_with_flips(runs, name, step) for name in names)
        if with_the_flips <= bound:
            excused.append(
                {
                    "step": step + 1,
                    "windows": [window for flip in flips for window in flip["windows"]],
                    "difference": difference,
                    "with_the_flips": with_the_flips,
                    "gradient": max(flip["gradient"] for flip in flips),
                    "gradient_with_the_flips": max(flip["gradient_with_the_flips"] for flip in flips),
                }
            )
    return excused


def _distance_with_flips(runs: dict, name: str, step: int) -> float:
    """How far backend `name`'s step from the reference's parameters is from the reference's, its tie flips
    (if any at that step) taken as the reference's own."""
    if name == REFERENCE:
        return 0.0
    if step in runs[name].tie_flips:
        return runs[name].tie_flips[step]["with_the_flips"]
    return relative_difference(runs[name].from_reference[step], runs[REFERENCE].from_reference[step])


def _run(backend, spec, params, plan, data: CaseData, device, steps, whole_epoch) -> _Run:
    """One backend's run: `steps` single steps, then (if asked) one whole epoch afresh, and its counts
    after the epoch or, for a net with dropout, after the steps."""
    training, eta = data.dataset(backend), spec.training.eta
    model = backend.Model(spec, params, device)
    after_step = []
    for step in range(steps):
        model.train_epoch(training, plan.one_step(step, spec.training.batch_size), eta)
        after_step.append(_parameters(model, backend, spec))
    run = _Run(after_step)
    if whole_epoch:
        model = backend.Model(spec, params, device)
        model.train_epoch(training, plan, eta)
        run.after_epoch = _parameters(model, backend, spec)
    if whole_epoch or spec.network.has_dropout:
        run.correct = correct_counts(model, spec, _evaluated_data(data, backend))
    return run


def evaluated_splits(splits: dict, whole_epoch: bool) -> dict:
    """The validation and test sets a run is evaluated on: all of them after a whole epoch; after the
    first steps (a net with dropout, whose inference is not its training), their first images."""
    return {name: splits[name] if whole_epoch else splits[name].first(EVALUATED_AFTER_STEPS) for name in EVALUATED}


def _evaluated_data(data: CaseData, backend) -> dict[str, Dataset]:
    """The case's evaluated splits in the backend's arrays."""
    return {name: data.dataset(backend, name) for name in EVALUATED}


def correct_counts(model, spec, datasets: dict[str, Dataset]) -> dict[str, int]:
    """The model's correct count on each of `datasets` (by name)."""
    return {name: evaluate(model, data, spec)[0] for name, data in datasets.items()}


def _parameters(model, backend, spec):
    """The model's parameters, once they are known to be in the canonical layout."""
    params = model.parameters()
    check_layout(params, spec.network.parameter_shapes, backend.NAME, "Model.parameters")
    return params
