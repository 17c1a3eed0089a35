"""float32 conformance of the chapter 6 CNN, at the thread counts a user gets, and the tie flips behind it.

The float32 rows of `nndl conform --full` failed on a 2-core machine: a max-pool window whose two
largest entries were 8 ulps apart picked another maximum in torch than in the reference, and the
free-running runs parted there (conformance/suite/tolerances.py). These tests run those rows as a user
would, in a subprocess, at the default threads and at OMP_NUM_THREADS=1 (which changes both
OpenBLAS's and torch's kernels), and hold what the fix rests on: the perturbed runs of the
reference, the steps taken from the reference's parameters (a step over the bound passes only where a
tie flip explains it: tests/test_tie_flips.py), and `--explain`'s tie analysis.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import reference
from conformance.data.streams import dither_generator, epoch_plan, initial_parameters
from conformance.run.training import prepare_data
from conformance.suite import tolerances, trajectories
from conformance.suite.engine import Outcome
from conformance.suite.explain import tie_flip_lines
from conformance.suite.matrix import CHAPTER_6, TRAJECTORY_CASES
from conformance.suite.results import relative_difference
from conformance.suite.trajectories import _one_ulp, check_trajectory
from reference.ties import gradients_with_swapped, near_ties

REPOSITORY = Path(__file__).resolve().parent.parent
CNN_FLOAT32 = next(case for case in TRAJECTORY_CASES if case.label == CHAPTER_6.label and case.dtype == "float32")


def conform(mnist_path, tmp_path, threads: str | None):
    """`nndl conform --full` on the float32 CNN rows, numpy and torch, in a subprocess: (exit code, JSON, output)."""
    env = {**os.environ, "NNDL_DATA": str(mnist_path)}
    env.pop("OMP_NUM_THREADS", None)
    if threads is not None:
        env["OMP_NUM_THREADS"] = threads
    out = tmp_path / "conform.json"
    command = [sys.executable, "-c", "import sys; from conformance.cli import main; sys.exit(main())"]
    args = ["conform", "--full", "--case", CNN_FLOAT32.label + " float32", "--backends", "numpy,torch", "--json", out]
    done = subprocess.run(
        command + list(map(str, args)), check=False, cwd=REPOSITORY, env=env, capture_output=True, text=True
    )
    return done.returncode, json.loads(out.read_text()) if out.exists() else None, done.stdout + done.stderr


@pytest.mark.parametrize("threads", [None, "1"], ids=["default threads", "OMP_NUM_THREADS=1"])
def test_the_float32_cnn_rows_conform_at_the_threads_a_user_gets(threads, mnist_path, tmp_path):
    pytest.importorskip("torch", reason="the float32 CNN rows compare torch with the reference")
    code, record, output = conform(mnist_path, tmp_path, threads)
    assert code == 0, output
    assert record["checks"] == 3 and record["failed"] == 0, output
    by_check = {result["check"]: result for result in record["results"]}
    steps, epoch, counts = by_check["first 100 steps"], by_check["one epoch"], by_check["correct counts"]
    assert steps["value"] <= 1e-4 and len(steps["free_running"]) == 100
    over = [k + 1 for k, value in enumerate(steps["per_step"]) if value > 1e-4]
    flips = steps.get("tie_flips", [])
    assert [flip["step"] for flip in flips] == over  # a step over the bound passes only as a tie flip
    assert all(flip["with_the_flips"] <= 1e-4 < flip["difference"] and flip["windows"] for flip in flips)
    assert epoch["value"] <= epoch["bound"] <= tolerances.EPOCH_CEILING["float32"]
    assert len(epoch["perturbed_runs"]) == 2 + tolerances.DITHERED_RUNS
    assert counts["value"] <= 100 and "correct_at_reference_parameters" in counts
    ran_on = record["ran_on"]
    if threads == "1":
        assert ran_on["settings"]["OMP_NUM_THREADS"] == "1"
        assert ran_on["threads"]["torch"]["threads"] == 1 and ran_on["threads"]["numpy"]["threads"] == 1
    assert "ran on: " in output


def test_a_dithered_parameter_moves_exactly_one_ulp_either_way_as_the_seed_draws():
    array = np.array([1.0, -2.5, 0.0, 3e-8], dtype=np.float32)
    moved = _one_ulp(array, dither_generator(0, 0))
    assert moved.dtype == np.float32
    assert np.all(np.abs(moved - array) == np.spacing(np.abs(array)))
    assert np.array_equal(moved, _one_ulp(array, dither_generator(0, 0)))  # the same seed, the same moves
    assert not np.array_equal(moved, _one_ulp(array, dither_generator(0, 1)))


@pytest.fixture(scope="module")
def splits(mnist):
    return {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}


def test_float32_steps_start_from_the_references_parameters_and_still_catch_a_wrong_update(splits):
    from tests import broken_l2_backend

    case = next(case for case in TRAJECTORY_CASES if case.preset == "ch3-l2-30" and case.dtype == "float32")
    results = check_trajectory(case, {"numpy": reference, "broken": broken_l2_backend}, splits, "cpu", 3, False)
    steps = next(result for result in results if result.check == "first 3 steps")
    assert not steps.passed and steps.value > 1e-3  # L2's n taken as the batch's: a step off from the first
    assert len(steps.detail["free_running"]) == 3


def test_the_references_gradient_with_no_window_swapped_is_its_own_bitwise(mnist):
    spec = CNN_FLOAT32.spec()
    training = mnist.training.first(spec.data.train_size)
    params = initial_parameters(spec.network, 0)
    rows = epoch_plan(spec, len(training), 1, 0).order[:10]
    x, y = training.images[rows], np.eye(10)[training.labels[rows]]
    masks = [None] * len(spec.network.layers)
    own = reference.Model(spec, params).gradients(x, y, masks, len(training))
    assert relative_difference(gradients_with_swapped(spec, params, x, y, masks, len(training), []), own) == 0.0
    for tie in near_ties(spec, params, x, masks):
        assert 1 <= tie.ulps <= 16


def test_explain_names_the_near_tie_where_torch_and_the_reference_part(splits):
    torch_impl = pytest.importorskip("torch_impl", reason="the tie flip is torch's")
    backends = {"numpy": reference, "torch": torch_impl}
    results = check_trajectory(CNN_FLOAT32, backends, splits, "cpu", 60, False)
    steps = results[0]
    outcome = Outcome("full", list(backends), {}, "cpu", 0, {}, results)
    lines = tie_flip_lines(outcome, steps, CNN_FLOAT32, [torch_impl, reference], reference, splits, "cpu", 0)
    if not lines:
        pytest.skip(
            f"torch and the reference did not part within 60 steps on this machine (free-running at most "
            f"{max(steps.detail['free_running']):.1e}): no tie flip to explain here"
        )
    assert "max-pool window" in " ".join(lines)
    verdict = re.search(r"gradient is torch's to (\S+) \((\S+) as it is\)", lines[-1])
    assert verdict, lines
    matched, as_it_is = float(verdict[1]), float(verdict[2])
    assert matched < as_it_is / 100  # the swap turns the reference's gradient into torch's


def test_the_epoch_yardstick_in_float32_is_the_largest_of_six_perturbed_runs(mnist):
    spec = CNN_FLOAT32.spec()
    training = mnist.training.first(200)
    params = initial_parameters(spec.network, 0)
    plan = epoch_plan(spec, len(training), 1, 0)
    data = prepare_data(reference.asarray, training.images, training.labels, 10, "float32")
    model = reference.Model(spec, params)
    model.train_epoch(data, plan, spec.training.eta)
    run = trajectories._Run(after_step=[], after_epoch=model.parameters())
    measured = trajectories.rounding_sensitivity(reference, spec, params, plan, training, run, seed=0)
    moves = measured["perturbed_runs"]
    assert len(moves) == 2 + tolerances.DITHERED_RUNS and all(move > 0 for move in moves.values())
    assert measured["rounding_sensitivity"] == max(moves.values())
