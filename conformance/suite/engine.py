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
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.backend import environment
from conformance.backend.registry import REFERENCE, load_backend
from conformance.backend.registry import backend_names as registered_backends
from conformance.data import mnist
from conformance.spec.errors import BackendNotInstalledError, NndlError
from conformance.suite.ensembles import check_ensemble
from conformance.suite.explain import explain_failures, explain_partings
from conformance.suite.gradients import check_gradients
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
from conformance.suite.perceptrons import check_perceptrons
from conformance.suite.results import Result
from conformance.suite.trajectories import check_trajectory

MODES = ("quick", "full")
STEPS = {"quick": 10, "full": 100}


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

    @property
    def failures(self) -> list[Result]:
        return [result for result in self.results if not result.passed]


def available_backends(names: list[str], log) -> tuple[dict, dict[str, str]]:
    """Each named backend (a registered name or a module path) by its NAME; one that is not installed
    is skipped, with the reason, not failed."""
    backends, skipped = {}, {}
    for name in names:
        try:
            backend = load_backend(name)
        except BackendNotInstalledError as error:
            skipped[name] = str(error)
            log(f"skipped: {error}")
            continue
        backends[backend.NAME] = backend
    return backends, skipped


def planned_checks(mode: str, case_filter: str = "") -> list[tuple[object, dict]]:
    """[(case, how to check it)]: gradient cases get {}, training cases their steps and whether to run an
    epoch, ensemble cases {"ensemble": True}."""
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
    return [(case, how) for case, how in planned if case_filter in case.name]


def run_conformance(
    mode: str,
    backend_names: list[str],
    mnist,
    device: str = "cpu",
    case_filter: str = "",
    seed: int = 0,
    log=print,
    explain: bool = False,
) -> Outcome:
    """Run the planned checks in every available backend; with `explain`, say why each failure failed."""
    if REFERENCE not in backend_names:
        raise NndlError(f"conformance compares against the reference: include {REFERENCE} in --backends")
    planned = planned_checks(mode, case_filter)
    if not planned:
        raise NndlError(f"no configuration's name contains {case_filter!r}")
    backends, skipped = available_backends(backend_names, log)
    for name, backend in backends.items():
        if name != REFERENCE:
            backend.resolve_device(device)
    outcome = Outcome(mode, list(backends), skipped, device, seed, environment.describe(backends, device))
    splits = {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}
    for number, (case, how) in enumerate(planned, start=1):
        log(f"[{number}/{len(planned)}] {case.name}")
        if "ensemble" in how:
            outcome.results += check_ensemble(case, backends, splits, device, seed)
        elif case == PERCEPTRONS:
            outcome.results += check_perceptrons(case, backends)
        elif how:
            steps, whole_epoch = how["steps"], how["whole_epoch"]
            outcome.results += check_trajectory(case, backends, splits, device, steps, whole_epoch, seed)
        else:
            outcome.results += check_gradients(case, backends, mnist.training, device, seed)
    cases = {case.name: case for case, _ in planned}
    if explain and outcome.failures:
        log(f"explaining {len(outcome.failures)} failing checks")
        outcome.explanations = explain_failures(outcome, cases, backends, splits, device, seed)
    if explain:
        outcome.partings = explain_partings(outcome, cases, backends, splits, device, seed)
    return outcome


def conform(
    backends: list[str] | None = None,
    mode: str = "quick",
    case_filter: str = "",
    seed: int = 0,
    device: str = "cpu",
    data=None,
    explain: bool = False,
    log=None,
) -> Outcome:
    """`nndl conform` as a function: every check of `mode` across `backends` (default: every
    registered one; one not installed is skipped, with the reason), on the MNIST file `data`
    (None: $NNDL_DATA, the cache or a download). The Outcome holds every result; its `failures`
    are the checks that failed, and conformance.suite.report.to_json gives the whole of it as JSON."""
    log = log or mnist.silent
    names = list(backends) if backends is not None else registered_backends()
    return run_conformance(mode, names, mnist.load_mnist(data, log=log), device, case_filter, seed, log, explain)
