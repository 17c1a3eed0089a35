"""`nndl bench`: epoch times of each backend and of its baselines, measured in one run.

Every row trains the same network from the same initial parameters through the same epoch
plans, so the rows do the same arithmetic and their times can be set side by side. Each row's
figure is the median over several epochs, the rows taking turns epoch by epoch.

The rows' parameters are compared too, after one mini-batch and after the whole run: a
baseline that is fast because it computes something else would show up there. After one step
the rows differ by rounding at most; over thousands of steps such differences can grow, so a
difference at the end of the run is reported, not judged.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .spec import Spec
from .streams import EpochPlan, epoch_plan, initial_parameters

# A row starts from given parameters and returns (run one epoch from a plan, its parameters now).
StartRow = Callable[[list], tuple[Callable[[EpochPlan], None], Callable[[], list]]]


@dataclass(frozen=True)
class Row:
    name: str
    epoch_seconds: float  # the median
    all_seconds: list[float]
    params_after_one_step: list
    params_after_run: list


def bare_loop_reason(spec: Spec) -> str | None:
    """Why the bare NumPy loop cannot run this spec, or None when it can."""
    network = spec.network
    if any(layer.activation != "sigmoid" for layer in network.layers):
        return "the bare loop is written for sigmoid layers only"
    if network.has_dropout or spec.training.regularizer == "l1":
        return "the bare loop has no dropout and no L1"
    return None


def numpy_rows(spec: Spec, data, include_per_example: bool, log) -> list[tuple[str, StartRow]]:
    """The reference, the bare NumPy loop and the book's per-example algorithm, as rows."""
    import reference
    from reference.baseline import bare_epoch, per_example_epoch

    training, eta = spec.training, spec.training.eta

    def start_reference(params):
        model = reference.Model(spec, params)
        return (lambda plan: model.train_epoch(data, plan, eta)), model.parameters

    def start_bare(params):
        own = reference.Model(spec, params).params  # copies in the spec's dtype
        cost = spec.network.cost
        return (
            lambda plan: bare_epoch(own, data.x, data.y, plan.order, training.batch_size, eta, cost, training.lmbda)
        ), (lambda: own)

    def start_per_example(params):
        own = reference.Model(spec, params).params
        return (lambda plan: per_example_epoch(spec, own, data.x, data.y, plan, eta)), (lambda: own)

    rows = [("numpy reference", start_reference)]
    why_not_bare = bare_loop_reason(spec)
    if why_not_bare is None:
        rows.append(("numpy bare loop", start_bare))
    else:
        log(f"numpy bare loop skipped: {why_not_bare}")
    if include_per_example:
        rows.append(("numpy per-example (the book's algorithm)", start_per_example))
    return rows


def run_bench(spec: Spec, training_split, seed: int, epochs: int, include_per_example: bool = True, log=print):
    import reference

    n_classes = spec.network.layers[-1].size
    data = reference.prepare_data(training_split.images, training_split.labels, n_classes, spec.training.dtype)
    plans = [epoch_plan(spec, len(training_split), epoch, seed) for epoch in range(1, epochs + 1)]
    first_step = _first_batch(plans[0], spec.training.batch_size)
    start = initial_parameters(spec.network, seed)
    candidates = numpy_rows(spec, data, include_per_example, log)
    one_step_params = []
    for _, start_row in candidates:
        step, parameters = start_row(start)
        _quietly(step, first_step)
        one_step_params.append(parameters())
    runs = [start_row(start) for _, start_row in candidates]
    seconds = [[] for _ in candidates]
    for plan in plans:  # the rows take turns, epoch by epoch, so that a slow spell of the machine hits them all
        for (name, _), (run_epoch, _), times in zip(candidates, runs, seconds):
            started = time.perf_counter()
            _quietly(run_epoch, plan)
            times.append(time.perf_counter() - started)
            log(f"  {name}: epoch {plan.epoch} took {times[-1]:.3f} s")
    return [
        Row(name, statistics.median(times), times, step_params, parameters())
        for (name, _), (_, parameters), times, step_params in zip(candidates, runs, seconds, one_step_params)
    ]


def _first_batch(plan: EpochPlan, batch_size: int) -> EpochPlan:
    """The plan's first mini-batch alone, as a one-step epoch."""
    return EpochPlan(plan.epoch, plan.order[:batch_size], [m if m is None else m[:batch_size] for m in plan.masks])


def _quietly(run_epoch, plan) -> None:
    with np.errstate(over="ignore"):  # as Model.train_epoch does: see reference.activations.Sigmoid
        run_epoch(plan)


def largest_difference(params_a, params_b) -> float:
    """The largest |a - b| over every parameter."""
    return max(
        float(np.max(np.abs(a - b))) for layer_a, layer_b in zip(params_a, params_b) for a, b in zip(layer_a, layer_b)
    )


def report(spec: Spec, rows: list[Row], n_examples: int, epochs: int) -> str:
    reference_row = rows[0]
    lines = [
        f"bench {spec.name}: sizes {list(spec.network.sizes)}, mini-batch {spec.training.batch_size}, "
        f"{spec.training.dtype}, {n_examples:,} examples, median of {epochs} epoch(s)",
        f"  {'row':44s} {'epoch (s)':>10s} {'vs reference':>13s}",
    ]
    for row in rows:
        ratio = row.epoch_seconds / reference_row.epoch_seconds
        lines.append(f"  {row.name:44s} {row.epoch_seconds:10.3f} {ratio:12.2f}x")
    for row in rows[1:]:
        ratio = row.epoch_seconds / reference_row.epoch_seconds
        if row.name == "numpy bare loop":
            lines.append(f"reference / bare loop: {1 / ratio:.2f}x (target: at most 1.3x)")
        else:
            lines.append(f"per-example / reference: {ratio:.1f}x (target: at least 10x)")
        one_step = largest_difference(reference_row.params_after_one_step, row.params_after_one_step)
        whole_run = largest_difference(reference_row.params_after_run, row.params_after_run)
        lines.append(
            f"  parameters, reference vs {row.name}: largest |difference| {one_step:.3g} after one step, "
            f"{whole_run:.3g} after the run"
        )
    return "\n".join(lines)


def to_json(spec: Spec, rows: list[Row]) -> dict:
    return {
        "preset": spec.name,
        "batch_size": spec.training.batch_size,
        "dtype": spec.training.dtype,
        "rows": [
            {"name": row.name, "epoch_seconds": row.epoch_seconds, "all_epoch_seconds": row.all_seconds} for row in rows
        ],
    }
