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
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .backends import load_backend
from .errors import BackendNotInstalledError, NndlError
from .spec import Spec
from .streams import EpochPlan, epoch_plan, initial_parameters
from .training import prepare_data

# A row starts from given parameters and returns (run one epoch from a plan, its parameters now).
StartRow = Callable[[list], tuple[Callable[[EpochPlan], None], Callable[[], list]]]


@dataclass(frozen=True)
class Row:
    name: str
    epoch_seconds: float  # the median
    all_seconds: list[float]
    params_after_one_step: list
    params_after_run: list
    backend: str = "numpy"
    compile_seconds: float | None = None  # the first epoch's time minus the median, where it compiles


# Untimed seconds before each backend's rows. A library's idle threads keep spinning a while after
# its last call (OpenBLAS's ~0.1 s): on a machine with few cores they would take one from the next
# backend's first row, and slow it by ~10% at mini-batch 100.
SWITCH_PAUSE = 0.3

# row name -> (the ratio's name, its numerator row, its denominator row, format, target), printed after the row
RATIOS = {
    "numpy bare loop": ("reference / bare loop", "numpy reference", "numpy bare loop", ".2f", "at most 1.3x"),
    "numpy per-example (the book's algorithm)": (
        "per-example / reference",
        "numpy per-example (the book's algorithm)",
        "numpy reference",
        ".1f",
        "at least 10x",
    ),
    "torch bare loop": ("torch backend / torch bare loop", "torch backend", "torch bare loop", ".2f", "at most 1.3x"),
    "jax bare loop": ("jax backend / jax bare loop", "jax backend", "jax bare loop", ".2f", "at most 1.3x"),
}

# the row that stands for each backend when the bench names the fastest
BACKEND_ROWS = {"numpy": "numpy reference", "torch": "torch backend", "jax": "jax backend"}

# Backends that compile a network's epoch on its first call: their rows run one untimed epoch
# first, on a throwaway copy of the parameters, and report the compilation apart.
COMPILING_BACKENDS = {"jax"}


def bare_loop_reason(spec: Spec) -> str | None:
    """Why the bare loops (NumPy's, torch's and JAX's) cannot run this spec, or None when they can."""
    network = spec.network
    if any(layer.type != "dense" for layer in network.layers):
        return "the bare loop is written for dense layers only"
    if any(layer.activation != "sigmoid" for layer in network.layers):
        return "the bare loop is written for sigmoid layers only"
    if network.has_dropout or spec.training.regularizer == "l1":
        return "the bare loop has no dropout and no L1"
    return None


def _bare_row(name: str, start_bare: StartRow, spec: Spec, log) -> list[tuple[str, StartRow]]:
    """The bare loop's row, or none (with the reason in the log) when it cannot run the spec."""
    why_not = bare_loop_reason(spec)
    if why_not is not None:
        log(f"{name} skipped: {why_not}")
        return []
    return [(name, start_bare)]


def numpy_rows(spec: Spec, training_split, include_per_example: bool, log) -> list[tuple[str, StartRow]]:
    """The reference, the bare NumPy loop and the book's per-example algorithm, as rows (on the CPU)."""
    import reference
    from reference.baseline import bare_epoch, per_example_epoch

    training, eta = spec.training, spec.training.eta
    n_classes = spec.network.layers[-1].size
    data = prepare_data(reference, training_split.images, training_split.labels, n_classes, training.dtype)

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

    rows = [("numpy reference", start_reference), *_bare_row("numpy bare loop", start_bare, spec, log)]
    if include_per_example:
        rows.append(("numpy per-example (the book's algorithm)", start_per_example))
    return rows


def torch_rows(spec: Spec, training_split, device: str, log) -> list[tuple[str, StartRow]]:
    """The torch backend and the bare torch loop, as rows on `device`, with their own copy of the data there."""
    import torch

    import torch_impl
    from torch_impl.baseline import bare_epoch
    from torch_impl.device import torch_dtype

    training, eta = spec.training, spec.training.eta
    where = torch_impl.resolve_device(device)
    dtype = torch_dtype(training.dtype, where)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(torch_impl, training_split.images, training_split.labels, n_classes, training.dtype, device)

    def synchronize():
        """Wait for the device, so that an asynchronous one (CUDA, MPS) is timed for its work, not for queueing it."""
        if where.type == "cuda":
            torch.cuda.synchronize(where)
        elif where.type == "mps":
            torch.mps.synchronize()

    def start_backend(params):
        model = torch_impl.Model(spec, params, device)

        def run_epoch(plan):
            model.train_epoch(data, plan, eta)
            synchronize()

        return run_epoch, model.parameters

    def start_bare(params):
        own = [
            tuple(torch.tensor(array, dtype=dtype, device=where, requires_grad=True) for array in pair)
            for pair in params
        ]
        cost = spec.network.cost

        def run_epoch(plan):
            order = torch.as_tensor(plan.order, device=where)
            bare_epoch(own, data.x, data.y, order, training.batch_size, eta, cost, training.lmbda)
            synchronize()

        def parameters():
            return [tuple(t.detach().cpu().numpy().copy() for t in pair) for pair in own]

        return run_epoch, parameters

    return [("torch backend", start_backend), *_bare_row("torch bare loop", start_bare, spec, log)]


def jax_rows(spec: Spec, training_split, device: str, log) -> list[tuple[str, StartRow]]:
    """The JAX backend and the bare jit + scan loop, as rows on `device`, with their own copy of the data there."""
    import jax

    import jax_impl
    from jax_impl.baseline import bare_epoch
    from jax_impl.device import jax_dtype

    training, eta = spec.training, spec.training.eta
    where = jax_impl.resolve_device(device)
    dtype = jax_dtype(training.dtype)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(jax_impl, training_split.images, training_split.labels, n_classes, training.dtype, device)

    def start_backend(params):
        model = jax_impl.Model(spec, params, device)

        def run_epoch(plan):
            model.train_epoch(data, plan, eta)
            jax.block_until_ready(model.params)  # JAX dispatches asynchronously: time the work, not its queueing

        return run_epoch, model.parameters

    def start_bare(params):
        own = [tuple(jax.device_put(np.asarray(array, dtype=dtype), where) for array in pair) for pair in params]
        cost = spec.network.cost

        def run_epoch(plan):
            order = jax.device_put(plan.order, where)
            own[:] = bare_epoch(tuple(own), data.x, data.y, order, training.batch_size, eta, cost, training.lmbda)
            jax.block_until_ready(own)

        def parameters():
            return [tuple(np.array(array) for array in pair) for pair in own]

        return run_epoch, parameters

    return [("jax backend", start_backend), *_bare_row("jax bare loop", start_bare, spec, log)]


def run_bench(
    spec: Spec,
    training_split,
    seed: int,
    epochs: int,
    include_per_example: bool = True,
    log=print,
    backends=("numpy", "torch", "jax"),
    device: str = "cpu",
):
    """Time each backend's rows on the same plans; a backend that is not installed is skipped, said in `log`.

    numpy runs on the CPU; `device` is where the torch and jax rows run.
    """
    if device != "cpu" and not {"torch", "jax"} & set(backends):
        log(f"--device {device} is for the torch and jax rows, and there are none: numpy runs on the CPU")
    plans = [epoch_plan(spec, len(training_split), epoch, seed) for epoch in range(1, epochs + 1)]
    first_step = plans[0].one_step(0, spec.training.batch_size)
    start = initial_parameters(spec.network, seed)
    candidates = []  # (backend, row name, start_row)
    for backend in backends:
        try:
            load_backend(backend)
        except BackendNotInstalledError as error:
            log(f"{backend} rows skipped: {error}")
            continue
        if backend == "numpy":
            rows = numpy_rows(spec, training_split, include_per_example, log)
        elif backend == "torch":
            rows = torch_rows(spec, training_split, device, log)
        else:
            rows = jax_rows(spec, training_split, device, log)
        candidates += [(backend, name, start_row) for name, start_row in rows]
    if not candidates:
        raise NndlError(f"nothing to bench: none of the backends {', '.join(backends)} could run")
    one_step_params = []
    for _, _, start_row in candidates:
        step, parameters = start_row(start)
        _quietly(step, first_step)
        one_step_params.append(parameters())
    runs = [start_row(start) for _, _, start_row in candidates]
    seconds = [[] for _ in candidates]
    first_epoch = [_first_epoch_seconds(backend, start_row, start, plans[0]) for backend, _, start_row in candidates]
    for backend in dict.fromkeys(backend for backend, _, _ in candidates):
        # One backend at a time: a library's idle threads spin on after its last call and would
        # slow the next library's rows. Within a backend the rows take turns, epoch by epoch, so
        # that a slow spell of the machine hits them all; its ratios are the ones with targets.
        time.sleep(SWITCH_PAUSE)
        rows = [i for i, (row_backend, _, _) in enumerate(candidates) if row_backend == backend]
        for plan in plans:
            for i in rows:
                started = time.perf_counter()
                _quietly(runs[i][0], plan)
                seconds[i].append(time.perf_counter() - started)
                log(f"  {candidates[i][1]}: epoch {plan.epoch} took {seconds[i][-1]:.3f} s")
    rows = []
    for i, (backend, name, _) in enumerate(candidates):
        median = statistics.median(seconds[i])
        compile_seconds = None if first_epoch[i] is None else max(0.0, first_epoch[i] - median)
        rows.append(Row(name, median, seconds[i], one_step_params[i], runs[i][1](), backend, compile_seconds))
    return rows


def _first_epoch_seconds(backend: str, start_row: StartRow, start: list, plan: EpochPlan) -> float | None:
    """For a backend that compiles, the time of its first epoch, run on a copy that is then thrown away."""
    if backend not in COMPILING_BACKENDS:
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


def report(spec: Spec, rows: list[Row], n_examples: int, epochs: int, device: str = "cpu") -> str:
    """The rows' times, each against the reference row (the NumPy reference, else the first row), and the targets."""
    by_name = {row.name: row for row in rows}
    reference_row = by_name.get("numpy reference", rows[0])
    against = "reference" if reference_row.name == "numpy reference" else reference_row.name
    header = (
        f"bench {spec.name}: sizes {list(spec.network.sizes)}, mini-batch {spec.training.batch_size}, "
        f"{spec.training.dtype}, {n_examples:,} examples, median of {epochs} epoch(s)"
    )
    on_device = sorted({row.backend for row in rows} - {"numpy"})
    if on_device:
        header += f", {' and '.join(on_device)} on {device}"
    column = f"vs {against}"
    width = max(13, len(column))
    lines = [header, f"  {'row':44s} {'epoch (s)':>10s} {column:>{width}s}"]
    for row in rows:
        ratio = row.epoch_seconds / reference_row.epoch_seconds
        lines.append(f"  {row.name:44s} {row.epoch_seconds:10.3f} {ratio:{width - 1}.2f}x")
    for row in rows:
        if row is reference_row:
            continue
        if row.name in RATIOS:
            label, numerator, denominator, form, target = RATIOS[row.name]
            if numerator in by_name and denominator in by_name:
                ratio = by_name[numerator].epoch_seconds / by_name[denominator].epoch_seconds
                lines.append(f"{label}: {ratio:{form}}x (target: {target})")
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


def fastest_line(spec: Spec, rows: list[Row], device: str) -> str:
    """The line that names the fastest backend for this net here, each backend by its backend row."""
    timed = sorted(
        (row.epoch_seconds, backend) for backend, name in BACKEND_ROWS.items() for row in rows if row.name == name
    )
    others = ", ".join(f"{backend} {seconds:.3f} s" for seconds, backend in timed[1:])
    seconds, fastest = timed[0]
    against = f" (against {others})" if others else " (the only backend benched)"
    return (
        f"fastest backend on this machine for {spec.name} at mini-batch {spec.training.batch_size}, "
        f"{spec.training.dtype}, {device}: {fastest}, {seconds:.3f} s an epoch{against}"
    )


def to_json(spec: Spec, rows: list[Row], device: str = "cpu") -> dict:
    return {
        "preset": spec.name,
        "batch_size": spec.training.batch_size,
        "dtype": spec.training.dtype,
        "device": device,
        "rows": [
            {
                "name": row.name,
                "epoch_seconds": row.epoch_seconds,
                "all_epoch_seconds": row.all_seconds,
                "compile_seconds": row.compile_seconds,
            }
            for row in rows
        ],
        "fastest": fastest_line(spec, rows, device),
    }
