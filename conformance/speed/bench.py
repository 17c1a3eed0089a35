"""`nndl bench`: epoch times of each backend and of its baselines, measured in one run.

Every row trains the same network from the same initial parameters through the same epoch
plans, so the rows do the same arithmetic and their times can be set side by side. Each row's
figure is the median over several epochs; one backend at a time, its rows taking turns epoch by epoch.

The rows' parameters are compared too, after one mini-batch and after the whole run: a
baseline that is fast because it computes something else would show up there. After one step
the rows differ by rounding at most; over thousands of steps such differences can grow, so a
difference at the end of the run is reported, not judged.

Each backend's rows prepare their own copy of the data, in that backend's arrays and on its
device; they all follow the same NumPy epoch plans, and their parameters come back as NumPy
arrays to be compared with the first row's (the NumPy reference, when numpy is benched).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import numpy as np

from conformance.backend.contract import BACKEND_ROW, BARE_LOOP, ENSEMBLE_ROW, PER_EXAMPLE, BenchRow, Ratio, StartRow
from conformance.backend.registry import REFERENCE, backend_names, load_backend
from conformance.data.streams import EpochPlan, epoch_plan, initial_parameters
from conformance.run.training import prepare_data
from conformance.spec.errors import BackendNotInstalledError, NndlError
from conformance.spec.spec import Spec


@dataclass(frozen=True)
class Row:
    name: str
    epoch_seconds: float  # the median
    all_seconds: list[float]
    params_after_one_step: list
    params_after_run: list
    backend: str
    compile_seconds: float | None = None  # the first epoch's time minus the median, where it compiles
    kind: str = BACKEND_ROW  # what the row is (conformance.backend.contract): the backend's own, a bare loop, ...
    ratio: Ratio | None = None  # printed after the row, with its target


# Untimed seconds before each backend's rows. A library's idle threads keep spinning a while after
# its last call (OpenBLAS's ~0.1 s): on a machine with few cores they would take one from the next
# backend's first row, and slow it by ~10% at mini-batch 100.
SWITCH_PAUSE = 0.3
ENSEMBLE_TARGET = 3.0  # an epoch of 5 members trained as one costs at most 3 members' epochs (issue 11)


BARE_CNN_ACTIVATIONS = ("sigmoid", "relu")  # the hidden layers' activations the bare CNN loops know


def bare_loop_reason(spec: Spec) -> str | None:
    """Why the backends' bare loops cannot run this spec, or None when they can: the MLP loop
    takes sigmoid dense layers, the CNN loop chapter 6's nets (conformance.backend.contract.BARE_LOOP)."""
    network = spec.network
    if network.has_dropout or spec.training.regularizer == "l1":
        return "the bare loops have no dropout and no L1"
    if network.has_conv:
        return _bare_cnn_reason(network)
    if any(layer.activation != "sigmoid" for layer in network.layers):
        return "the bare MLP loop is written for sigmoid layers only"
    return None


def _bare_cnn_reason(network) -> str | None:
    if any(layer.type == "conv" and layer.pooling != "max" for layer in network.layers):
        return "the bare CNN loop is written for max-pooling only"
    if any(layer.activation not in BARE_CNN_ACTIVATIONS for layer in network.layers[:-1]):
        return f"the bare CNN loop's hidden layers are {' or '.join(BARE_CNN_ACTIVATIONS)} only"
    if network.layers[-1].activation != "softmax" or network.cost != "log_likelihood":
        return "the bare CNN loop ends in a softmax layer with the log-likelihood cost"
    return None


def per_example_reason(spec: Spec) -> str | None:
    """Why the book's per-example algorithm cannot run this spec (network.py and network2.py have
    dense layers only), or None when it can."""
    if any(layer.type != "dense" for layer in spec.network.layers):
        return "the book's per-example algorithm is written for dense layers only"
    return None


def declared_rows(backend, spec: Spec, training_split, device: str) -> list[BenchRow]:
    """The backend's bench_rows, or for a backend without them its Model's row alone (the contract's default)."""
    if hasattr(backend, "bench_rows"):
        return backend.bench_rows(spec, training_split, device)
    return [BenchRow(f"{backend.NAME} backend", model_row(backend, spec, training_split, device), BACKEND_ROW)]


def model_row(backend, spec: Spec, training_split, device: str) -> StartRow:
    """A row that trains the backend's Model on its own copy of the data. Each epoch ends by copying the
    parameters back to NumPy, which waits for a framework that queues its work (at the cost of a copy)."""
    n_classes = spec.network.layers[-1].size
    data = prepare_data(
        backend.asarray, training_split.images, training_split.labels, n_classes, spec.training.dtype, device
    )

    def start(params):
        model = backend.Model(spec, params, device)

        def run_epoch(plan):
            model.train_epoch(data, plan, spec.training.eta)
            model.parameters()

        return run_epoch, model.parameters

    return start


def rows_to_time(rows: list[BenchRow], spec: Spec, include_per_example: bool, log) -> list[BenchRow]:
    """A backend's rows less those that cannot run the spec (said in `log`) and, unless asked for,
    the per-example algorithm."""
    why_not = {BARE_LOOP: bare_loop_reason(spec), PER_EXAMPLE: per_example_reason(spec)}
    kept = []
    for row in rows:
        if row.kind == PER_EXAMPLE and not include_per_example:
            continue
        if why_not.get(row.kind) is not None:
            log(f"{row.name} skipped: {why_not[row.kind]}")
        else:
            kept.append(row)
    return kept


def ensemble_row(
    backend, spec: Spec, training_split, device: str, members: int, backend_row: str, plans: list[EpochPlan], seed: int
) -> BenchRow:
    """`members` members trained as one by the backend's Ensemble, held to ENSEMBLE_TARGET (pro rata for
    other than 5 members) against its Model's row.

    Every member starts from the row's parameters (the cost of an epoch does not depend on them);
    member 1 follows the row's plans, so that it stays comparable with the other rows, and member i
    the plans of seed + i - 1 (drawn here, untimed): its own masks, and where the spec shuffles its
    own order, as `nndl ensemble` trains them.
    """
    n = len(training_split)
    own_plans = {
        plan.epoch: [plan] + [epoch_plan(spec, n, plan.epoch, seed + i) for i in range(1, members)] for plan in plans
    }
    n_classes = spec.network.layers[-1].size
    data = prepare_data(
        backend.asarray, training_split.images, training_split.labels, n_classes, spec.training.dtype, device
    )

    def start(params):
        ensemble = backend.Ensemble(spec, [params] * members, device)

        def run_epoch(plan):  # the whole epoch, or its first step
            member_plans = [member.rows(slice(0, len(plan.order))) for member in own_plans[plan.epoch]]
            ensemble.train_epoch(data, member_plans, [spec.training.eta] * members)
            ensemble.parameters()  # waits for the epoch, as the bench's other rows do

        return run_epoch, lambda: ensemble.parameters()[0]

    name = f"{backend.NAME} ensemble of {members}"
    target = f"at most {ENSEMBLE_TARGET * members / 5:g}x" + (
        "" if members == 5 else f" ({ENSEMBLE_TARGET:g}x for 5 members)"
    )
    ratio = Ratio(f"{name} / {backend_row}", name, backend_row, ".2f", target)
    return BenchRow(name, start, ENSEMBLE_ROW, ratio)


def run_bench(
    spec: Spec,
    training_split,
    seed: int,
    epochs: int,
    include_per_example: bool = True,
    log=print,
    backends: list[str] | None = None,
    device: str = "cpu",
    members: int = 0,
):
    """Time each backend's rows on the same plans; a backend that is not installed is skipped, said in `log`.

    `backends` names them (default: every registered one). The reference runs on the CPU; `device`
    is where the others' rows run. With `members`, a backend that trains an ensemble as one computation
    gets an ensemble row too.
    """
    names = backend_names() if backends is None else backends
    if device != "cpu" and set(names) <= {REFERENCE}:
        others = f"the rows of backends other than {REFERENCE}"
        log(f"--device {device} is for {others}, and there are none: {REFERENCE} runs on the CPU")
    plans = [epoch_plan(spec, len(training_split), epoch, seed) for epoch in range(1, epochs + 1)]
    first_step = plans[0].one_step(0, spec.training.batch_size)
    start = initial_parameters(spec.network, seed)
    candidates = []  # (backend, row)
    for name in names:
        try:
            backend = load_backend(name)
        except BackendNotInstalledError as error:
            log(f"{name} rows skipped: {error}")
            continue
        row_device = "cpu" if backend.NAME == REFERENCE else device
        declared = declared_rows(backend, spec, training_split, row_device)
        if members and hasattr(backend, "Ensemble"):
            own = next(row.name for row in declared if row.kind == BACKEND_ROW)
            declared.append(ensemble_row(backend, spec, training_split, row_device, members, own, plans, seed))
        candidates += [(backend, row) for row in rows_to_time(declared, spec, include_per_example, log)]
    if not candidates:
        raise NndlError(f"nothing to bench: none of the backends {', '.join(names)} could run")
    one_step_params = []
    for _, row in candidates:
        step, parameters = row.start(start)
        _quietly(step, first_step)
        one_step_params.append(parameters())
    runs = [row.start(start) for _, row in candidates]
    seconds = [[] for _ in candidates]
    first_epoch = [_first_epoch_seconds(backend, row.start, start, plans[0]) for backend, row in candidates]
    for backend in dict.fromkeys(backend for backend, _ in candidates):
        # One backend at a time: a library's idle threads spin on after its last call and would
        # slow the next library's rows. Within a backend the rows take turns, epoch by epoch, so
        # that a slow spell of the machine hits them all; its ratios are the ones with targets.
        time.sleep(SWITCH_PAUSE)
        rows = [i for i, (row_backend, _) in enumerate(candidates) if row_backend is backend]
        for plan in plans:
            for i in rows:
                started = time.perf_counter()
                _quietly(runs[i][0], plan)
                seconds[i].append(time.perf_counter() - started)
                log(f"  {candidates[i][1].name}: epoch {plan.epoch} took {seconds[i][-1]:.3f} s")
    rows = []
    for i, (backend, row) in enumerate(candidates):
        median = statistics.median(seconds[i])
        compile_seconds = None if first_epoch[i] is None else max(0.0, first_epoch[i] - median)
        rows.append(
            Row(
                row.name,
                median,
                seconds[i],
                one_step_params[i],
                runs[i][1](),
                backend.NAME,
                compile_seconds,
                row.kind,
                row.ratio,
            )
        )
    return rows


def _first_epoch_seconds(backend, start_row: StartRow, start: list, plan: EpochPlan) -> float | None:
    """For a backend that compiles, the time of its first epoch, run on a copy that is then thrown away."""
    if not backend.COMPILES:
        return None
    run_epoch, _ = start_row(start)
    started = time.perf_counter()
    _quietly(run_epoch, plan)
    return time.perf_counter() - started


def _quietly(run_epoch, plan) -> None:
    with np.errstate(over="ignore"):  # as Model.train_epoch does: see reference.activations.Sigmoid
        run_epoch(plan)


def largest_difference(params_a, params_b) -> float:
    """The largest |a - b| over every parameter."""
    return max(
        float(np.max(np.abs(a - b))) for layer_a, layer_b in zip(params_a, params_b) for a, b in zip(layer_a, layer_b)
    )


def report(
    spec: Spec, rows: list[Row], n_examples: int, epochs: int, device: str = "cpu", whole: int | None = None
) -> str:
    """The rows' times, each against the reference row (the NumPy reference, else the first row), and the targets.

    When the rows trained on part of a training set of `whole` examples (--train-size), a column
    scales each time to the whole epoch.
    """
    by_name = {row.name: row for row in rows}
    reference_row = next(filter(_is_the_reference, rows), rows[0])
    against = "reference" if _is_the_reference(reference_row) else reference_row.name
    header = (
        f"bench {spec.name}: sizes {spec.network.layout}, mini-batch {spec.training.batch_size}, "
        f"{spec.training.dtype}, {n_examples:,} examples, median of {epochs} epoch(s)"
    )
    on_device = sorted({row.backend for row in rows} - {REFERENCE})
    if on_device:
        header += f", {' and '.join(on_device)} on {device}"
    column = f"vs {against}"
    width = max(13, len(column))
    scale = whole / n_examples if whole and whole > n_examples else None
    scaled_title = f" {f'{whole:,} (s)':>13s}" if scale else ""
    lines = [header, f"  {'row':44s} {'epoch (s)':>10s}{scaled_title} {column:>{width}s}"]
    for row in rows:
        ratio = row.epoch_seconds / reference_row.epoch_seconds
        scaled = f" {row.epoch_seconds * scale:13.1f}" if scale else ""
        lines.append(f"  {row.name:44s} {row.epoch_seconds:10.3f}{scaled} {ratio:{width - 1}.2f}x")
    for row in rows:
        if row.ratio is not None and {row.ratio.numerator, row.ratio.denominator} <= by_name.keys():
            lines.append(_ratio_line(row.ratio, by_name))
        if row is reference_row:
            continue
        one_step = largest_difference(reference_row.params_after_one_step, row.params_after_one_step)
        whole_run = largest_difference(reference_row.params_after_run, row.params_after_run)
        lines.append(
            f"  parameters, {against} vs {row.name}: largest |difference| {one_step:.3g} after one step, "
            f"{whole_run:.3g} after the run"
        )
    lines += [
        f"{row.name}: compiling the epoch took {row.compile_seconds:.2f} s (its first epoch less the median), "
        "not counted above"
        for row in rows
        if row.compile_seconds is not None
    ]
    lines.append(fastest_line(spec, rows, device))
    return "\n".join(lines)


def _is_the_reference(row: Row) -> bool:
    return row.backend == REFERENCE and row.kind == BACKEND_ROW


def _ratio_line(ratio: Ratio, by_name: dict[str, Row]) -> str:
    value = by_name[ratio.numerator].epoch_seconds / by_name[ratio.denominator].epoch_seconds
    return f"{ratio.label}: {value:{ratio.form}}x (target: {ratio.target})"


def fastest_line(spec: Spec, rows: list[Row], device: str) -> str:
    """The line that names the fastest backend for this net here, each backend by its backend row."""
    timed = sorted((row.epoch_seconds, row.backend) for row in rows if row.kind == BACKEND_ROW)
    others = ", ".join(f"{backend} {seconds:.3f} s" for seconds, backend in timed[1:])
    seconds, fastest = timed[0]
    against = f" (against {others})" if others else " (the only backend benched)"
    return (
        f"fastest backend on this machine for {spec.name} at mini-batch {spec.training.batch_size}, "
        f"{spec.training.dtype}, {device}: {fastest}, {seconds:.3f} s an epoch{against}"
    )


def to_json(
    spec: Spec,
    rows: list[Row],
    device: str = "cpu",
    n_examples: int | None = None,
    whole: int | None = None,
    ran_on: dict | None = None,
) -> dict:
    scale = whole / n_examples if whole and n_examples else 1.0
    return {
        "preset": spec.name,
        "batch_size": spec.training.batch_size,
        "dtype": spec.training.dtype,
        "device": device,
        "examples": n_examples,
        "whole_epoch_examples": whole,
        "ran_on": ran_on,  # conformance.backend.environment.describe: versions, processor, threads
        "rows": [
            {
                "name": row.name,
                "epoch_seconds": row.epoch_seconds,
                "whole_epoch_seconds": row.epoch_seconds * scale,
                "all_epoch_seconds": row.all_seconds,
                "compile_seconds": row.compile_seconds,
            }
            for row in rows
        ],
        "fastest": fastest_line(spec, rows, device),
    }
