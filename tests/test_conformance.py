"""Conformance under pytest: the engine's own checks, one test per configuration of `--quick`.

No second copy of the logic: every test calls the suite's checks (conformance.suite.gradients, .trajectories,
.ensembles), as `nndl conform` does.
Backends that are not installed are left out, as the command leaves them out.
"""

import itertools
import json

import numpy as np
import pytest

from conformance.backend.registry import BUILT_IN, backend_names
from conformance.suite import engine, matrix, tolerances
from conformance.suite.ensembles import check_ensemble
from conformance.suite.gradients import check_gradients
from conformance.suite.results import backend_pairs, relative_difference
from conformance.suite.trajectories import check_trajectory

QUICK = engine.planned_checks("quick")
GRADIENT_CASES = [case for case, how in QUICK if not how and case != matrix.PERCEPTRONS]  # tests/test_perceptron.py
TRAJECTORIES = [(case, how) for case, how in QUICK if how and "ensemble" not in how]
ENSEMBLES = [case for case, how in QUICK if "ensemble" in how]


@pytest.fixture(scope="module")
def backends():
    return engine.available_backends(backend_names(), log=lambda message: None)[0]  # those installed


@pytest.fixture(scope="module")
def splits(mnist):
    return {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}


@pytest.fixture
def run(nndl, quick_mnist):
    """`nndl ARGS...` in-process, with the session's MNIST: returns (exit code, stdout, stderr)."""

    def run(*args):
        result = nndl(*args)
        return result.code, result.out, result.err

    return run


def failures(results):
    return [f"{r.case} / {r.check} / {r.pair}: {r.value:.3g} > {r.bound:g}" for r in results if r.failed]


@pytest.mark.parametrize("case", GRADIENT_CASES, ids=[case.name for case in GRADIENT_CASES])
def test_gradients_conform(case, backends, mnist):
    results = check_gradients(case, backends, mnist.training, "cpu")
    assert len(results) == len(backend_pairs(list(backends))) + (case.dtype == "float64")
    assert not failures(results)


@pytest.mark.parametrize("case, how", TRAJECTORIES, ids=[case.name for case, _ in TRAJECTORIES])
def test_training_conforms(case, how, backends, splits):
    results = check_trajectory(case, backends, splits, "cpu", how["steps"], how["whole_epoch"])
    assert not failures(results)


@pytest.mark.parametrize("case", ENSEMBLES, ids=[case.name for case in ENSEMBLES])
def test_ensembles_trained_as_one_conform(case, backends, splits):
    results = check_ensemble(case, backends, splits, "cpu")
    trained_as_one = [name for name in backends if name in ("torch", "jax")]
    ran = [result for result in results if not result.not_applicable]
    assert [result.pair for result in ran] == [f"{name} ensemble vs alone" for name in trained_as_one]
    (alone,) = [result for result in results if result.not_applicable]  # the reference has no Ensemble
    assert alone.pair == "numpy ensemble vs alone" and "numpy has no Ensemble" in alone.not_applicable
    assert not failures(results)


def test_the_quick_run_trains_the_chapter_1_epoch_and_every_configurations_first_steps():
    """The policy's headline figures (chapter 1, one epoch, float64) are in every quick run."""
    whole_epochs = [case for case, how in TRAJECTORIES if how["whole_epoch"]]
    assert whole_epochs == [matrix.CHAPTER_1]
    assert [case for case, _ in TRAJECTORIES] == matrix.TRAJECTORY_CASES
    assert all(how["steps"] == 10 for _, how in TRAJECTORIES)


def test_an_epoch_is_shown_beside_the_references_own_rounding_sensitivity(backends, splits):
    """A one-ulp nudge of the initial weights moves the reference's epoch: by little in this smooth,
    regularised run of 100 steps, by 2.7e-8 in the chapter 1 preset (see the README)."""
    if len(backends) < 2:
        pytest.skip("one backend installed: nothing to compare")
    case = matrix.TrajectoryCase("ch3-overfit-1000-l2")
    results = check_trajectory(case, backends, splits, "cpu", steps=1, whole_epoch=True)
    epochs = [result for result in results if result.check == "one epoch"]
    assert epochs and all(0 < result.detail["rounding_sensitivity"] < 1e-12 for result in epochs)
    for result in epochs:  # the bound is the run's own: 20 times that sensitivity, far below the ceiling
        assert result.bound == pytest.approx(20 * result.detail["rounding_sensitivity"]) and result.passed


# -- the checks can fail -------------------------------------------------------------------------


@pytest.fixture
def with_broken_backend(monkeypatch):
    monkeypatch.setitem(BUILT_IN, "broken", "tests.broken_backend")


def test_a_gradient_wrong_by_1e_7_fails(with_broken_backend, mnist):
    broken = engine.available_backends(["numpy", "broken"], log=print)[0]
    case = matrix.GradientCase("sigmoid", "cross_entropy", "l2", False, "default", 1)
    (result, _finite_differences) = check_gradients(case, broken, mnist.training, "cpu")
    assert result.pair == "broken vs numpy" and not result.passed
    assert result.value == pytest.approx(1e-7, rel=1e-3)


def test_a_learning_rate_wrong_by_1e_7_fails_the_first_steps(with_broken_backend, splits):
    broken = engine.available_backends(["numpy", "broken"], log=print)[0]
    case = matrix.TrajectoryCase("ch3-overfit-1000-l2")
    results = check_trajectory(case, broken, splits, "cpu", steps=3, whole_epoch=True)
    steps = next(r for r in results if r.check == "first 3 steps")
    assert not steps.passed and 1e-12 < steps.value < 1e-6
    assert len(steps.detail["per_step"]) == 3


def test_conform_exits_1_on_a_failure_and_names_it(with_broken_backend, run, tmp_path):
    code, out, _ = run(
        "conform",
        "--backends",
        "numpy,broken",
        "--case",
        "grad sigmoidx1 sigmoid/quadratic",
        "--json",
        tmp_path / "c.json",
    )
    assert code == 1
    assert "FAIL" in out and "broken/numpy" in out
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["failed"] >= 1
    float64 = [r for r in report["results"] if r["pair"] == "broken vs numpy" and r["dtype"] == "float64"]
    assert float64 and not any(r["passed"] for r in float64)  # float32's bound is looser than the error


# -- the command ---------------------------------------------------------------------------------


def test_conform_prints_the_table_and_writes_every_number(run, tmp_path):
    code, out, _ = run("conform", "--case", "ch3-overfit-1000", "--wide", "--json", tmp_path / "c.json")
    assert code == 0, out
    assert "tolerance policy" in out and "every backend conforms" in out
    report = json.loads((tmp_path / "c.json").read_text())
    assert report["mode"] == "quick" and report["failed"] == 0
    assert {r["check"] for r in report["results"]} <= {"first 10 steps", "one epoch", "correct counts"}
    for result in report["results"]:
        assert f"{result['value']:.1e}" in out or result["check"] == "correct counts"


def test_a_built_in_backend_not_installed_is_skipped_unless_named(monkeypatch, run):
    monkeypatch.setitem(BUILT_IN, "absent", "no_such_package_for_nndl")
    code, out, _ = run("conform", "--case", "grad tanhx1")  # every registered backend, absent among them
    assert code == 0
    out = " ".join(out.split())  # the report wraps its lines at 100 columns
    assert "absent skipped, not failed" in out and "pip install 'nndl[absent]'" in out
    code, _, err = run("conform", "--backends", "numpy,absent", "--case", "grad tanhx1")
    assert code == 2 and "the absent backend is not installed" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--backends", "numpy,nope"], "unknown backend"),
        (["--backends", "torch"], "include numpy"),
        (["--case", "no configuration has this name"], "no configuration's name matches"),
        (["--case", "grad (unclosed"], "--case 'grad (unclosed' is not a regular expression"),
        (["--backends", "numpy,reference"], "--backends names two backends called 'numpy' (numpy and reference)"),
    ],
)
def test_conform_bad_input_is_one_line(arguments, message, run):
    code, _, err = run("conform", *arguments)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


# -- the engine's parts --------------------------------------------------------------------------


def test_relative_difference_is_normwise_and_worst_over_arrays():
    b = [(np.array([[3.0, 4.0]]), np.array([1.0]))]
    a = [(np.array([[3.0, 4.0 + 1e-6]]), np.array([1.0 + 1e-3]))]
    assert relative_difference(a, b) == pytest.approx(1e-3)
    assert relative_difference(b, b) == 0.0
    assert relative_difference([(np.zeros(2),)], [(np.zeros(2),)]) == 0.0
    assert relative_difference([(np.ones(2),)], [(np.zeros(2),)]) == np.inf


def test_the_quick_subset_covers_every_pair_of_choices():
    factors = list(matrix.GRADIENT_FACTORS.values())
    cases = matrix.covering_gradient_cases()
    chosen = [(c.activation, c.cost, c.regularizer, c.dropout, c.init, c.depth) for c in cases]
    for i, j in itertools.combinations(range(len(factors)), 2):
        for a, b in itertools.product(factors[i], factors[j]):
            assert any(choice[i] == a and choice[j] == b for choice in chosen), (i, a, j, b)
    assert len(cases) < len(matrix.all_gradient_cases()) / 20


def test_the_full_matrix_is_the_whole_product():
    cases = matrix.all_gradient_cases()
    assert len(cases) == 4 * 3 * 3 * 2 * 2 * 4 == len(set(cases))
    assert {case.depth for case in cases} == {1, 2, 3, 4}


def test_finite_differences_say_when_they_cannot_be_trusted(mnist):
    """A saturated net (large weights, linear hidden layers, a sigmoid output): nothing to check."""
    case = matrix.GradientCase("linear", "quadratic", "none", False, "large", 4)
    result = check_gradients(case, {"numpy": engine.load_backend("numpy")}, mnist.training, "cpu")[-1]
    assert result.pair == "numpy vs finite differences"
    assert result.not_applicable and not result.passed and not result.failed
    assert result.detail["coordinates_checked"] == 0


def test_conform_on_a_missing_gpu_is_one_line(run, backends):
    if "torch" not in backends:
        pytest.skip("torch is not installed")
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, out, err = run("conform", "--device", "cuda", "--case", "grad tanhx1")
    assert code == 2 and "use --device cpu" in err and len(err.strip().splitlines()) == 1
    assert "configuration" not in out  # nothing ran


def test_the_seed_draws_other_parameters_batches_and_masks(run, tmp_path):
    figures = {}
    for seed in (0, 1):
        path = tmp_path / f"seed{seed}.json"
        code, out, _ = run("conform", "--case", "grad sigmoidx2", "--seed", seed, "--json", path)
        assert code == 0 and f"seed {seed}" in out
        report = json.loads(path.read_text())
        assert report["seed"] == seed
        figures[seed] = [result["value"] for result in report["results"]]
    assert figures[0] != figures[1]


def test_conform_with_nothing_to_compare_says_so(run):
    code, out, _ = run("conform", "--backends", "numpy", "--case", "train ch1")
    assert code == 1 and "no checks ran" in out
    code, out, _ = run("conform", "--backends", "numpy", "--case", "grad tanhx1")
    out = " ".join(out.split())  # the report wraps its lines at 100 columns
    assert code == 1 and "1 check ran, 0 failed; not a verdict: no pair of backends was compared" in out


def test_the_json_refuses_to_overwrite_a_file(run, tmp_path):
    existing = tmp_path / "mine.json"
    existing.write_text("keep me")
    code, _, err = run("conform", "--case", "grad tanhx1", "--json", existing)
    assert code == 2 and "--overwrite" in err
    assert existing.read_text() == "keep me"


def test_the_epoch_bound_is_the_runs_own_rounding_sensitivity_times_20_below_a_ceiling():
    assert tolerances.epoch_bound("float64", 5.7e-14) == pytest.approx(1.14e-12)  # a calm run: tight
    assert tolerances.epoch_bound("float64", 2.7e-8) == pytest.approx(5.4e-7)  # chapter 1's amplification
    assert tolerances.epoch_bound("float64", 3.8e-2) == 1e-6  # a chaotic seed meets the ceiling
    assert tolerances.epoch_bound("float32", 6.6e-2) == 1e-1
    assert tolerances.epoch_bound("float64", None) == 1e-6  # no reference run to measure it by
