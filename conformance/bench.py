"""`nndl bench`: epoch times of each backend and of its baselines, measured in one run.

Every row trains the same network from the same initial parameters through the same epoch
plans, so the rows do the same arithmetic and their times can be set side by side. Each row's
figure is the median over several epochs. The rows' final parameters are compared too: a
baseline that is fast because it computes something else would show up there.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .spec import Spec
from .streams import epoch_plan, initial_parameters


@dataclass(frozen=True)
class Row:
    name: str
    epoch_seconds: float
    all_seconds: list[float]
    params: list


def bare_loop_reason(spec: Spec) -> str | None:
    """Why the bare NumPy loop cannot run this spec, or None when it can."""
    network = spec.network
    if any(layer.activation != "sigmoid" for layer in network.layers):
        return "the bare loop is written for sigmoid layers only"
    if network.has_dropout or spec.training.regularizer == "l1":
        return "the bare loop has no dropout and no L1"
    return None


def run_bench(
    spec: Spec, training_split, seed: int, epochs: int, include_per_example: bool = True, log=print
) -> list[Row]:
    import reference
    from reference.baseline import bare_epoch, per_example_epoch

    data = reference.prepare_data(
        training_split.images, training_split.labels, spec.network.layers[-1].size, spec.training.dtype
    )
    n, eta = len(data.x), spec.training.eta
    plans = [epoch_plan(spec, n, epoch, seed) for epoch in range(1, epochs + 1)]
    start = initial_parameters(spec.network, seed)
    rows = []

    model = reference.Model(spec, start)
    rows.append(
        _timed("numpy reference", plans, lambda plan: model.train_epoch(data, plan, eta), model.parameters, log)
    )

    if bare_loop_reason(spec) is None:
        bare = reference.Model(spec, start).params
        training = spec.training
        rows.append(
            _timed(
                "numpy bare loop",
                plans,
                lambda plan: bare_epoch(
                    bare, data.x, data.y, plan.order, training.batch_size, eta, spec.network.cost, training.lmbda
                ),
                lambda: bare,
                log,
            )
        )
    else:
        log(f"numpy bare loop skipped: {bare_loop_reason(spec)}")

    if include_per_example:
        slow = reference.Model(spec, start).params
        rows.append(
            _timed(
                "numpy per-example (the book's algorithm)",
                plans,
                lambda plan: per_example_epoch(spec, slow, data.x, data.y, plan, eta),
                lambda: slow,
                log,
            )
        )
    return rows


def _timed(name: str, plans, run_epoch: Callable, parameters: Callable, log) -> Row:
    seconds = []
    for plan in plans:
        started = time.perf_counter()
        run_epoch(plan)
        seconds.append(time.perf_counter() - started)
        log(f"  {name}: epoch {plan.epoch} took {seconds[-1]:.3f} s")
    return Row(name=name, epoch_seconds=statistics.median(seconds), all_seconds=seconds, params=parameters())


def largest_difference(params_a, params_b) -> float:
    """The largest |a - b| over every parameter: how far two rows' trajectories ended apart."""
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
        lines.append(
            f"  {row.name:44s} {row.epoch_seconds:10.3f} {row.epoch_seconds / reference_row.epoch_seconds:12.2f}x"
        )
    for row in rows[1:]:
        ratio = row.epoch_seconds / reference_row.epoch_seconds
        if row.name == "numpy bare loop":
            lines.append(f"reference / bare loop: {1 / ratio:.2f}x (target: at most 1.3x)")
        else:
            lines.append(f"per-example / reference: {ratio:.1f}x (target: at least 10x)")
        difference = largest_difference(reference_row.params, row.params)
        lines.append(f"  parameters after the run, reference vs {row.name}: largest |difference| {difference:.3g}")
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
