"""`nndl conform`: which checks a run makes, in which backends, and what came out.

Both begin with chapter 1's perceptrons: the NAND gate and the adder built of NANDs, on every
pair of input bits, against the reference and against their truth tables.
--quick: the covering subset of the gradient matrix (every pair of choices at least once) in
float64 and float32, the first 10 steps of every training configuration, and one whole epoch
of the chapter 1 preset, whose figures the tolerance policy names.
--full: the whole gradient matrix in float64 with the covering subset in float32, and the first
100 steps and one whole epoch of every training configuration.
Both: where a backend trains an ensemble as one computation, each member of one epoch of a dense and
a conv ensemble (float64) against the member trained alone.

The verdict counts only the checks that ran. A backend that declines a configuration (its
`supports(spec)`, or Unsupported from its Model) has n/a rows there, with the reason; one whose
method raises or hangs has failed rows, with one line each (conformance/suite/guard.py); either way
the other pairs run. "Every backend conforms" needs no failure, at least one pair of backends
compared, and every backend in at least one check that ran (`Outcome.not_run` says what is missing).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from conformance.backend import environment
from conformance.backend.registry import REFERENCE, load_backend
from conformance.backend.registry import backend_names as registered_backends
from conformance.data import mnist
from conformance.spec.errors import BackendNotInstalledError, NndlError, PortError
from conformance.suite.ensembles import check_ensemble
from conformance.suite.explain import explain_failures, explain_partings
from conformance.suite.gradients import FINITE_DIFFERENCES, check_gradients
from conformance.suite.guard import Declined, Guarded, TimeLimit
from conformance.suite.matrix import (
    CHAPTER_1,
    ENSEMBLE_CASES,
    PERCEPTRONS,
    TRAJECTORY_CASES,
    all_conv_gradient_cases,
    all_gradient_cases,
    covering_conv_gradient_cases,
    covering_gradient_cases,
)
from conformance.suite.perceptrons import PERCEPTRON_OUTPUTS, TRUTH_TABLE, check_perceptrons
from conformance.suite.results import Result, backend_pairs
from conformance.suite.trajectories import check_trajectory

MODES = ("quick", "full")
STEPS = {"quick": 10, "full": 100}
TIMEOUT = 300.0  # seconds of a port's own methods in one check before it is stopped (--timeout)
NOT_A_BACKEND = (FINITE_DIFFERENCES, TRUTH_TABLE, "alone")  # what a backend is compared with, besides backends


@dataclass
class Outcome:
    mode: str
    backends: list[str]
    skipped: dict[str, str]  # backend -> why it did not run
    device: str
    seed: int
    ran_on: dict = field(default_factory=dict)  # conformance.backend.environment.describe: versions, processor, threads
    results: list[Result] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)  # with --explain: why each failing check failed
    partings: list[str] = field(default_factory=list)  # with --explain: where passing runs part, and why
    tracebacks: list[str] = field(default_factory=list)  # where a port's method raised (--traceback prints them)

    @property
    def ran(self) -> list[Result]:
        """The checks that ran and gave a verdict (an n/a check did not run, and one chaotic at this seed gave
        none: each is counted apart, never as a pass)."""
        return [result for result in self.results if result.verdict]

    @property
    def chaotic(self) -> list[Result]:
        """The checks that ran but say nothing at this seed (conformance.suite.tolerances.chaotic)."""
        return [result for result in self.results if result.chaotic]

    @property
    def failures(self) -> list[Result]:
        return [result for result in self.results if result.failed]

    @property
    def not_run(self) -> list[str]:
        """Why the run cannot say that every backend conforms although nothing failed: no pair of backends
        compared (a backend against finite differences or a truth table is not a pair), or a backend
        that ran no check at all."""
        ran_in = [set(result_backends(result)) & set(self.backends) for result in self.ran]
        problems = []
        if not any(len(names) == 2 for names in ran_in):
            problems.append("no pair of backends was compared (name at least two in --backends)")
        for name in self.backends:
            if not any(name in names for names in ran_in):
                problems.append(f"the {name} backend ran no check")
        return problems

    @property
    def conforms(self) -> bool:
        return not self.failures and not self.not_run


def result_backends(result: Result) -> tuple[str, ...]:
    """The two sides of a result's pair: 'torch vs numpy' -> (torch, numpy); 'jax ensemble vs alone' -> (jax, alone)."""
    return tuple(side.removesuffix(" ensemble") for side in result.pair.split(" vs "))


def available_backends(
    names: list[str], log, named: bool = False, limit: TimeLimit | None = None, tracebacks: list[str] | None = None
):
    """Each backend of `names` by its NAME, the reference as it is and every other one Guarded (by `limit`,
    the tracebacks of what their methods raise kept in `tracebacks`); and the skipped ones. Only nndl's
    own torch and jax, when not installed and not `named` by the user, are skipped (with the reason);
    any other that cannot be loaded is an error naming it."""
    limit, tracebacks = limit or TimeLimit(None), [] if tracebacks is None else tracebacks
    backends, skipped, origins = {}, {}, {}
    for name in names:
        try:
            backend = load_backend(name)
        except BackendNotInstalledError as error:
            if named:
                raise
            skipped[name] = str(error)
            log(f"skipped: {error}")
            continue
        if backend.NAME in backends:
            raise NndlError(
                f"--backends names two backends called {backend.NAME!r} ({origins[backend.NAME]} and {name}): "
                "each needs a NAME of its own"
            )
        origins[backend.NAME] = name
        backends[backend.NAME] = backend if backend.NAME == REFERENCE else Guarded(backend, limit, tracebacks)
    return backends, skipped


def planned_checks(mode: str, case_patterns: list[str] | str = ()) -> list[tuple[object, dict]]:
    """[(case, how to check it)] of the mode whose names match one of `case_patterns` (regular expressions,
    searched in the name; none: every case): gradient cases get {}, training cases their steps and
    whether to run an epoch, ensemble cases {"ensemble": True}."""
    if mode not in MODES:
        raise NndlError(f"unknown conformance mode {mode!r}; choose one of: {', '.join(MODES)}")
    if mode == "quick":
        gradient_cases = covering_gradient_cases("float64") + covering_conv_gradient_cases("float64")
    else:
        gradient_cases = all_gradient_cases("float64") + all_conv_gradient_cases("float64")
    gradient_cases += covering_gradient_cases("float32") + covering_conv_gradient_cases("float32")
    planned = [(PERCEPTRONS, {})] + [(case, {}) for case in gradient_cases]
    for case in TRAJECTORY_CASES:
        planned.append((case, {"steps": STEPS[mode], "whole_epoch": mode == "full" or case == CHAPTER_1}))
    planned += [(case, {"ensemble": True}) for case in ENSEMBLE_CASES]
    patterns = _compiled([case_patterns] if isinstance(case_patterns, str) else list(case_patterns))
    return [(case, how) for case, how in planned if not patterns or any(p.search(case.name) for p in patterns)]


def _compiled(patterns: list[str]) -> list[re.Pattern]:
    compiled = []
    for pattern in filter(None, patterns):
        try:
            compiled.append(re.compile(pattern))
        except re.error as error:
            raise NndlError(f"--case {pattern!r} is not a regular expression: {error}") from None
    return compiled


def check_names(case, how: dict) -> list[str]:
    """The checks a case makes for each pair of backends, as its Results name them."""
    if case == PERCEPTRONS:
        return [PERCEPTRON_OUTPUTS]
    if "ensemble" in how:
        return ["members, one epoch"]
    if not how:
        return ["gradient"]
    spec = case.spec()
    checks = [f"first {how['steps']} steps"] + (["layer speeds"] if case.layer_speeds else [])
    checks += ["one epoch"] if how["whole_epoch"] else []
    return checks + (["correct counts"] if how["whole_epoch"] or spec.network.has_dropout else [])


def run_conformance(
    mode: str,
    backend_names: list[str] | None,
    mnist,
    device: str = "cpu",
    case_patterns: list[str] | str = (),
    seed: int = 0,
    log=print,
    explain: bool = False,
    timeout: float | None = TIMEOUT,
) -> Outcome:
    """Run the planned checks in every available backend (None: every registered one, those of nndl's own
    not installed skipped); with `explain`, say why each failure failed. A backend that declines a
    configuration, or whose method raises or runs past `timeout` seconds in a check, costs its pairs in
    that configuration (n/a, or failed), not the run."""
    named = backend_names is not None
    names = list(backend_names) if named else registered_backends()
    planned = planned_checks(mode, case_patterns)
    if not planned:
        raise NndlError(f"no configuration's name matches --case {' '.join(map(repr, case_patterns))}")
    limit, tracebacks = TimeLimit(timeout or None), []
    backends, skipped = available_backends(names, log, named, limit, tracebacks)
    if REFERENCE not in backends:
        raise NndlError(f"conformance compares against the reference: include {REFERENCE} in --backends")
    for name, backend in backends.items():
        if name != REFERENCE:
            backend.resolve_device(device)
    outcome = Outcome(mode, list(backends), skipped, device, seed, environment.describe(backends, device))
    outcome.tracebacks = tracebacks
    splits = {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}
    for number, (case, how) in enumerate(planned, start=1):
        log(f"[{number}/{len(planned)}] {case.name}")
        outcome.results += _checked_case(case, how, backends, mnist, splits, device, seed, limit, log)
    cases = {case.name: case for case, _ in planned}
    if explain and outcome.failures:
        log(f"explaining {len(outcome.failures)} failing checks")
        outcome.explanations = explain_failures(outcome, cases, backends, splits, device, seed)
    if explain:
        outcome.partings = explain_partings(outcome, cases, backends, splits, device, seed)
    return outcome


def _checked_case(case, how, backends: dict, mnist, splits, device, seed, limit: TimeLimit, log) -> list[Result]:
    """The case's checks in every backend that runs it; for one that declines it, raises or runs out of time,
    its pairs as n/a (with the reason) or failed (with the one line), and the case again without it."""
    out = _declining(case, backends)  # backend name -> ("n/a" or "error", the reason or the line)
    while True:
        running = {name: backend for name, backend in backends.items() if name not in out}
        limit.start_check()
        try:
            results = _check(case, how, running, mnist, splits, device, seed)
            break
        except Declined as declined:
            out[declined.backend] = ("n/a", declined.reason)
        except PortError as error:
            if error.backend == REFERENCE:
                raise
            line = f"{error} (in {case.name})"
            log(f"  {line}")
            out[error.backend] = ("error", line)
    rows = results + _rows_left_out(case, how, list(backends), out, backends)
    order = [f"{a} vs {b}" for a, b in backend_pairs(list(backends))]
    return sorted(rows, key=lambda row: order.index(row.pair) if row.pair in order else len(order))


def _declining(case, backends: dict) -> dict[str, tuple[str, str]]:
    """The backends whose `supports(spec)` gives a reason not to run the case, with the reason."""
    if case == PERCEPTRONS:
        return {}
    spec, out = case.spec(), {}
    for name, backend in backends.items():
        if name == REFERENCE:
            continue
        try:
            reason = backend.supports(spec)
        except PortError as error:
            out[name] = ("error", f"{error} (in {case.name})")
            continue
        if reason is not None and not isinstance(reason, str):
            problem = f"gave {reason!r}, expected None (it runs the spec) or a reason"
            out[name] = ("error", f"{PortError(name, 'supports', problem)} (in {case.name})")
        elif reason:
            out[name] = ("n/a", reason)
    return out


def _check(case, how: dict, backends: dict, mnist, splits: dict, device: str, seed: int) -> list[Result]:
    if "ensemble" in how:
        return check_ensemble(case, backends, splits, device, seed)
    if case == PERCEPTRONS:
        return check_perceptrons(case, backends)
    if how:
        return check_trajectory(case, backends, splits, device, how["steps"], how["whole_epoch"], seed)
    return check_gradients(case, backends, mnist.training, device, seed)


def _rows_left_out(case, how: dict, names: list[str], out: dict, backends: dict) -> list[Result]:
    """A row for each check of each pair a backend in `out` was left out of: n/a with its reason, or failed
    (value None in the JSON) with the line that says what its method did; an error wins over a decline."""
    rows = []
    for a, b in _pairs_left_out(how, names, out, backends):
        sides = [side for side in (a.removesuffix(" ensemble"), b) if side in out]
        kind, why = next((out[side] for side in sides if out[side][0] == "error"), out[sides[0]])
        detail, reason = ({"error": why}, "") if kind == "error" else ({}, f"{sides[0]} declines: {why}")
        for check in check_names(case, how):
            rows.append(Result(case.name, check, f"{a} vs {b}", case.dtype, np.nan, np.nan, detail, reason))
    return rows


def _pairs_left_out(how: dict, names: list[str], out: dict, backends: dict) -> list[tuple[str, str]]:
    if "ensemble" in how:
        return [(f"{name} ensemble", "alone") for name in out if hasattr(backends[name], "Ensemble")]
    return [(a, b) for a, b in backend_pairs(names) if a in out or b in out]


def conform(
    backends: list[str] | None = None,
    mode: str = "quick",
    case_filter: list[str] | str = (),
    seed: int = 0,
    device: str = "cpu",
    data=None,
    explain: bool = False,
    log=None,
    timeout: float | None = TIMEOUT,
) -> Outcome:
    """`nndl conform` as a function: every check of `mode` across `backends` (default: every registered
    one; nndl's own torch or jax, when not installed, skipped with the reason; a backend named here
    that cannot be loaded is an error), on the MNIST file `data` (None: $NNDL_DATA, the cache or a
    download). `case_filter`: regular expressions, one of which a configuration's name must contain.
    The Outcome holds every result: `conforms` is the verdict, `failures` the checks that failed,
    `not_run` what kept a run with no failure from conforming, and conformance.suite.report.to_json
    gives the whole of it as JSON."""
    log = log or mnist.silent
    return run_conformance(
        mode, backends, mnist.load_mnist(data, log=log), device, case_filter, seed, log, explain, timeout
    )
