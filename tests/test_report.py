"""The conformance report: the default view fits 100 columns, --wide and --json keep everything."""

import json

import reference
from conformance.backend import environment
from conformance.suite import engine, report
from conformance.suite.engine import Outcome
from conformance.suite.perceptrons import PERCEPTRON_OUTPUTS
from conformance.suite.results import Result

PAIRS = ["torch vs numpy", "jax vs numpy", "jax vs torch"]
FINITE = "numpy vs finite differences"


def every_check_failing() -> Outcome:
    """An outcome with a failing result for every check `--full` plans, in every pair of three backends."""
    ran_on = environment.describe({"numpy": reference}, "cpu")
    outcome = Outcome("full", ["numpy", "torch", "jax"], {"mlx": "mlx is not installed " * 8}, "cpu", 0, ran_on)
    for case, how in engine.planned_checks("full"):
        if case == engine.PERCEPTRONS:
            for pair in [*PAIRS, "numpy vs truth table"]:
                outcome.results.append(Result(case.name, PERCEPTRON_OUTPUTS, pair, case.dtype, 2, 0))
            continue
        if "ensemble" in how:
            for pair in ("torch ensemble vs alone", "jax ensemble vs alone"):
                outcome.results.append(Result(case.name, "members, one epoch", pair, "float64", 2e-11, 1e-12))
            continue
        if not how:
            for pair in [*PAIRS, FINITE]:
                outcome.results.append(Result(case.name, "gradient", pair, case.dtype, 3.14e-2, 1e-10))
            continue
        for pair in PAIRS:
            steps = {"per_step": [1e-13 * k for k in range(1, 101)]}
            sensitivity = {"rounding_sensitivity": 5e-12, "perturbed_runs": {"initial weights x (1 + eps)": 5e-12}}
            if case.dtype == "float32":
                steps["free_running"] = [1e-7 * k for k in range(1, 101)]
                sensitivity["perturbed_runs"] = {f"run {k}": 5e-12 for k in range(6)}
            outcome.results += [
                Result(case.name, "first 100 steps", pair, case.dtype, 1.25e-11, 1e-12, steps),
                Result(case.name, "one epoch", pair, case.dtype, 2e-9, 1e-10, sensitivity),
                Result(case.name, "correct counts", pair, case.dtype, 3, 0),
            ]
            if case.layer_speeds:
                outcome.results.append(Result(case.name, "layer speeds", pair, case.dtype, 2e-11, 1e-12))
    return outcome


def test_every_line_of_the_default_view_fits_100_columns():
    text = report.table(every_check_failing())
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= report.WIDTH
    header = next(line for line in lines if line.startswith("configuration") and "numpy/fd" in line)
    assert header.split() == ["configuration", "check", "torch/numpy", "jax/numpy", "jax/torch", "numpy/fd"]
    rows = {" ".join(line.split()) for line in lines}  # each section's columns have their own widths
    assert "sigx2 xent l2 drop dflt f64 grad 3e-02 FAIL 3e-02 FAIL 3e-02 FAIL 3e-02 FAIL" in rows
    assert "ch1-sigmoid-30 f64 100 steps 1e-11 FAIL 1e-11 FAIL 1e-11 FAIL" in rows
    assert "ch5-depth-4 f64 speeds 2e-11 FAIL 2e-11 FAIL 2e-11 FAIL" in rows
    assert "xent = cross_entropy" in text and "fd = central finite differences (Richardson's)" in text
    assert lines[1].startswith("ran on: ")  # the header says what the run ran on, wrapped to fit
    assert "the most of 6 runs moved 1 ulp" in text and "its initial weights moved 1 ulp" in text


def test_the_short_names_keep_every_configuration_apart():
    names = {case.name for case, _ in engine.planned_checks("full")}
    assert len({report.short_case(name) for name in names}) == len(names) == 914
    assert (
        report.short_case("grad reluX3 softmax/log_likelihood l1 no-dropout network3 float32")
        == "reluX3 loglik l1 nw3 f32"
    )
    assert report.short_case("train ch6-conv2-relu dropout eta 0.3 2000 images float64") == (
        "ch6-conv2-relu drop eta 0.3 2000 img f64"
    )


def test_the_wide_view_and_the_json_have_every_name_and_number_in_full():
    outcome = every_check_failing()
    wide = report.table(outcome, wide=True)
    assert "grad sigmoidx2 sigmoid/cross_entropy l2 dropout default float64" in wide
    assert "3.1e-02 FAIL" in wide and "numpy vs finite differences" in wide
    assert max(len(line) for line in wide.splitlines()) > 200
    results = json.loads(json.dumps(report.to_json(outcome)))["results"]
    assert len(results) == len(outcome.results)
    assert next(result for result in results if result["check"] == "gradient")["value"] == 3.14e-2


def test_with_more_pairs_than_fit_the_pairs_are_split_into_tables_of_100_columns():
    outcome = Outcome("quick", ["numpy", "torch", "jax", "mine"], {}, "cpu", 0)
    names = ["numpy", "torch", "jax", "mine"]
    pairs = [f"{b} vs {a}" for i, a in enumerate(names) for b in names[i + 1 :]]
    for case, how in engine.planned_checks("quick"):
        for pair in pairs:
            outcome.results.append(
                Result(case.name, "gradient" if not how else "first 10 steps", pair, "float64", 0, 1)
            )
    lines = report.table(outcome).splitlines()
    headers = [line.split()[2:] for line in lines if line.startswith("configuration")]
    assert len(headers) > 1 and [pair for header in headers for pair in header] == list(map(report.short_pair, pairs))
    assert max(len(line) for line in lines) <= report.WIDTH
