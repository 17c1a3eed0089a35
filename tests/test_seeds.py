"""`nndl conform --seeds A-B`: the matrix at every seed, each check at its worst seed, and the seeds
where chapter 1's epoch is too chaotic for any bound (counted apart, neither passed nor failed).

- At seed 3 the reference moved by one ulp moves by 8.9e-4 after chapter 1's epoch, over the
  float64 ceiling of 1e-6: the epoch and its counts are chaotic, and the run still conforms on the
  checks that gave a verdict. At seed 0 nothing is chaotic.
- A sweep of two seeds on a local cluster of two workers gives, for each check, the worst of the two
  seeds' own runs (`nndl conform --seed S` alone, with the workers' threads), and the same verdict.
- Bad input, each in one line.
"""

import json
import os
import subprocess
import sys

import pytest

from conformance.suite import report, tolerances
from conformance.suite.engine import conform
from conformance.suite.seeds import KEY, SeedSweep, parse_seeds, ratio
from tests.cli_support import assert_one_line_error

CHAPTER_1 = "train ch1-sigmoid-30 float64"
CHEAP = ["train ch3-l2-30 float64", "^grad sigmoidx1 sigmoid/quadratic none .* float64"]  # steps and gradients


def test_chapter_1_at_seed_3_is_chaotic_not_failed(mnist_path):
    outcome = conform(["numpy", "torch"], case_filter=CHAPTER_1, seed=3, data=mnist_path)
    by_check = {result.check: result for result in outcome.results}
    epoch, counts, steps = by_check["one epoch"], by_check["correct counts"], by_check["first 10 steps"]
    assert epoch.detail["rounding_sensitivity"] > tolerances.EPOCH_CEILING["float64"]
    assert epoch.value > epoch.bound  # it would fail under the ceiling, on the strength of its own chaos
    assert epoch.chaotic.startswith("chaotic at this seed") and counts.chaotic == epoch.chaotic
    assert not epoch.passed and not epoch.failed and epoch.to_dict()["passed"] is None
    assert steps.passed and not steps.chaotic
    assert outcome.ran == [steps] and outcome.chaotic == [epoch, counts] and outcome.conforms
    text = report.table(outcome)
    assert "chaotic at this seed, so shown but neither passed nor counted:" in text
    assert text.endswith("1 check ran, 0 failed: every backend conforms")
    assert max(len(line) for line in text.splitlines()) <= report.WIDTH


def test_chapter_1_at_seed_0_is_not_chaotic(mnist_path):
    outcome = conform(["numpy", "torch"], case_filter=CHAPTER_1, seed=0, data=mnist_path)
    assert not outcome.chaotic and len(outcome.ran) == 3 and outcome.conforms


def own_run(mnist_path, seed: int, threads_env: dict, folder) -> dict:
    """`nndl conform --seed S --json` alone in a process of its own, with the workers' threads."""
    out = folder / f"seed{seed}.json"
    command = [sys.executable, "-m", "conformance.cli", "conform", "--seed", str(seed), "--data", str(mnist_path)]
    command += ["--backends", "numpy,torch,jax", "--json", str(out)]
    command += [argument for pattern in CHEAP for argument in ("--case", pattern)]
    subprocess.run(command, env={**os.environ, **threads_env}, capture_output=True, check=True)
    return json.loads(out.read_text())


def test_a_sweep_on_two_workers_gives_each_checks_worst_seed(mnist_path, tmp_path):
    pytest.importorskip("distributed")
    from conformance.cluster.workers import worker_environment

    out = tmp_path / "sweep.json"
    command = [sys.executable, "-m", "conformance.cli", "conform", "--seeds", "0-1", "--workers", "2"]
    command += ["--backends", "numpy,torch,jax", "--data", str(mnist_path), "--json", str(out)]
    command += [argument for pattern in CHEAP for argument in ("--case", pattern)]
    swept = subprocess.run(command, capture_output=True, text=True, check=False)
    assert swept.returncode == 0, swept.stderr
    sweep = json.loads(out.read_text())
    alone = {seed: own_run(mnist_path, seed, worker_environment(1), tmp_path) for seed in (0, 1)}
    assert sweep["conforms"] is (alone[0]["conforms"] and alone[1]["conforms"]) is True
    assert sweep["checks"] == alone[0]["checks"] + alone[1]["checks"] == 2 * 7
    for worst in sweep["worst"]:
        rows = {
            seed: next(r for r in run["results"] if all(r[k] == worst[k] for k in KEY)) for seed, run in alone.items()
        }
        nearest = max(rows, key=lambda seed: ratio(rows[seed]))
        assert worst["value"] == rows[nearest]["value"] and worst["bound"] == rows[nearest]["bound"]
    assert "every backend conforms at every seed" in swept.stdout
    assert "sweep on a local Dask cluster of 2 worker processes" in swept.stderr


def test_a_seed_that_fails_makes_the_sweep_fail():
    passing = {"conforms": True, "results": [row(0.5, 1.0, True)], "failed": 0, "not_run": []}
    failing = {"conforms": False, "results": [row(3.0, 1.0, False)], "failed": 1, "not_run": []}
    sweep = SeedSweep("quick", {0: passing, 1: failing})
    (worst,) = sweep.worst()
    assert (worst.seed, worst.failed, worst.passed, sweep.conforms) == (1, [1], 1, False)
    assert not SeedSweep("quick", {0: passing}, {1: "every worker that ran it died"}).conforms


def row(value, bound, passed, chaotic=""):
    return {"case": "c", "check": "gradient", "pair": "torch vs numpy", "dtype": "float64", "value": value,
            "bound": bound, "passed": passed, "not_applicable": "", "chaotic": chaotic}  # fmt: skip


def test_a_verdict_outranks_a_chaotic_seed_however_near_its_bound():
    chaotic = {"conforms": True, "results": [row(5.0, 1.0, None, "chaotic at this seed")], "failed": 0, "not_run": []}
    calm = {"conforms": True, "results": [row(0.1, 1.0, True)], "failed": 0, "not_run": []}
    (worst,) = SeedSweep("quick", {3: chaotic, 4: calm}).worst()
    assert (worst.seed, worst.chaotic, worst.passed) == (4, [3], 1)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--seeds", "x-3"], "--seeds 'x-3': give a range of seeds"),
        (["--seeds", "5-2"], "the range is empty"),
        (["--seeds", "0-1", "--explain"], "--explain is for one seed's run"),
        (["--workers", "2"], "give --seeds"),
    ],
)
def test_bad_seeds_are_one_line(nndl, arguments, message):
    assert_one_line_error(nndl("conform", *arguments), message)


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3] and parse_seeds("7") == [7]
