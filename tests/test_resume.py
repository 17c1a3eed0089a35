"""Runs that survive a kill: `nndl train --checkpoint-dir DIR`, `--resume DIR`, and what an interruption leaves.

The kill tests run `nndl train` in a subprocess, kill it with SIGKILL while it trains the epoch
after the one it saved last, resume it, and compare the result with the same run left alone,
also in a subprocess (with the same environment: one thread for torch).
"""

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance import cli
from conformance.data.mnist import MNIST_SHA256
from conformance.run.checkpoint import load_checkpoint, save_checkpoint
from conformance.run.resume import STATE_FILE, load_run
from tests.cli_support import assert_one_line_error, assert_same_params, forbid_training, read_json

REPOSITORY = Path(__file__).resolve().parents[1]
TIMING = ("seconds", "evaluation_seconds")

# Dropout and the eta schedule: with the seeds below, eta halves after the second or the third
# epoch, so a run killed after its second has to take the schedule up where it was.
DROPOUT_HALVING_SPEC = """\
name = "dropout-halving"

[network]
input = 784
layers = [
  { size = 30, activation = "relu", dropout = 0.2 },
  { size = 10, activation = "softmax" },
]
cost = "log_likelihood"
init = "default"

[training]
epochs = 4
batch_size = 10
eta = 0.5
halve_eta_patience = 1
"""


# -- running nndl in a subprocess ---------------------------------------------------------------


# `nndl ARGS`, with Ctrl-C heeded: a shell runs background jobs with SIGINT ignored, a child inherits
# that, and Python then never raises KeyboardInterrupt (CI may run the tests so).
NNDL_HEEDING_CTRL_C = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "from conformance.cli import main; sys.exit(main())"
)


def start_nndl(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", NNDL_HEEDING_CTRL_C, *map(str, args)],
        cwd=REPOSITORY,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"},  # each line as it is printed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def wait_until_saved(folder: Path, epoch: int, process: subprocess.Popen) -> None:
    """Return as soon as the run in `folder` has saved `epoch`: it is then training the next one."""
    deadline = time.monotonic() + 300
    while not ((folder / STATE_FILE).exists() and load_run(folder).last_saved_epoch >= epoch):
        assert process.poll() is None, f"the run ended before it saved epoch {epoch}: {finish(process)}"
        assert time.monotonic() < deadline, f"epoch {epoch} was not saved within 5 minutes"
        time.sleep(0.002)


def without_timing(run: dict) -> dict:
    epochs = [{key: value for key, value in epoch.items() if key not in TIMING} for epoch in run["epochs"]]
    return {**run, "epochs": epochs}


# -- a kill -9 at any moment ----------------------------------------------------------------------


@dataclass(frozen=True)
class KilledRun:
    backend: str
    rng: str
    seed: int
    dropout_halving: bool  # the spec above (4 epochs), else ch3-l2-30 for 3 epochs
    kill_after: int  # the epoch saved before the kill

    @property
    def epochs(self) -> int:
        return 4 if self.dropout_halving else 3

    def options(self, folder: Path, mnist_path: Path) -> list:
        if self.dropout_halving:
            spec = folder / "dropout-halving.toml"
            spec.write_text(DROPOUT_HALVING_SPEC)
            network = ["--spec", spec]
        else:
            network = ["--preset", "ch3-l2-30", "--epochs", self.epochs]
        settings = ["--backend", self.backend, "--rng", self.rng, "--seed", self.seed]
        return [*network, *settings, "--train-size", 2000, "--quiet", "--data", mnist_path]


SLOW = pytest.mark.slow
KILLED_RUNS = [
    pytest.param(KilledRun("numpy", "shared", 0, True, kill_after=2), id="numpy-dropout-halving"),
    pytest.param(KilledRun("torch", "native", 3, True, kill_after=2), id="torch-native-dropout-halving"),
    pytest.param(KilledRun("jax", "native", 1, True, kill_after=2), id="jax-native-dropout-halving"),
    pytest.param(KilledRun("torch", "shared", 0, True, kill_after=2), id="torch-dropout-halving", marks=SLOW),
    pytest.param(KilledRun("jax", "shared", 0, True, kill_after=2), id="jax-dropout-halving", marks=SLOW),
    pytest.param(KilledRun("numpy", "shared", 0, False, kill_after=1), id="numpy-ch3-l2-30", marks=SLOW),
]


@pytest.mark.parametrize("case", KILLED_RUNS)
def test_a_run_killed_mid_epoch_and_resumed_ends_bitwise_like_the_run_left_alone(case, tmp_path, mnist_path):
    if case.backend != "numpy":
        pytest.importorskip(case.backend)
    options = case.options(tmp_path, mnist_path)
    alone = start_nndl("train", *options, "--save", tmp_path / "alone.npz", "--json", tmp_path / "alone.json")
    folder = tmp_path / "run"
    killed = start_nndl("train", *options, "--checkpoint-dir", folder)
    wait_until_saved(folder, case.kill_after, killed)
    os.kill(killed.pid, signal.SIGKILL)
    assert finish(killed)[0] == -signal.SIGKILL
    saved_epoch = load_run(folder).last_saved_epoch
    assert case.kill_after <= saved_epoch < case.epochs

    outputs = ["--save", tmp_path / "resumed.npz", "--json", tmp_path / "resumed.json"]
    code, out, err = finish(start_nndl("train", "--resume", folder, "--quiet", "--data", mnist_path, *outputs))
    assert code == 0, err
    assert f"going on after epoch {saved_epoch} saved in {folder}" in out
    assert finish(alone)[0] == 0

    assert_same_params(load_checkpoint(tmp_path / "resumed.npz").params, load_checkpoint(tmp_path / "alone.npz").params)
    run_alone = read_json(tmp_path / "alone.json")
    assert without_timing(read_json(tmp_path / "resumed.json")) == without_timing(run_alone)
    state = load_run(folder)
    assert [record.epoch for record in state.records] == list(range(1, case.epochs + 1))
    assert_same_params(state.params, load_checkpoint(tmp_path / "alone.npz").params)
    if case.dropout_halving:
        etas = [epoch["eta"] for epoch in run_alone["epochs"]]
        assert min(etas[saved_epoch:]) < etas[0], f"eta never halved after the kill ({etas}): choose another seed"


# -- Ctrl-C -----------------------------------------------------------------------------------------


def interrupt_in_epoch_1(process: subprocess.Popen) -> tuple[int, str]:
    """Send SIGINT once the progress bar of epoch 1 shows; return the exit status and the last line on stderr."""
    shown = ""
    while "epoch 1" not in shown:
        assert process.poll() is None, finish(process)
        shown += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    return code, err.splitlines()[-1]


def test_ctrl_c_keeps_the_last_complete_epoch_and_says_how_to_go_on(tmp_path, mnist_path):
    folder = tmp_path / "run"
    run = ["--preset", "ch3-l2-30", "--train-size", 2000, "--epochs", 30, "--quiet", "--data", mnist_path]
    process = start_nndl("train", *run, "--checkpoint-dir", folder)
    wait_until_saved(folder, 1, process)
    process.send_signal(signal.SIGINT)
    code, _, err = finish(process)
    saved_epoch = load_run(folder).last_saved_epoch
    assert code == 130 and saved_epoch < 30
    resume = f"resume with: nndl train --resume {folder}"
    assert err == f"nndl: interrupted; epoch {saved_epoch} of 30 is saved in {folder}; {resume}\n"


def test_ctrl_c_in_the_first_epoch_says_that_nothing_was_saved(tmp_path, mnist_path):
    folder = tmp_path / "run"
    run = ["--preset", "ch3-l2-30", "--epochs", 1, "--data", mnist_path]  # a whole epoch: about a second
    code, last_line = interrupt_in_epoch_1(start_nndl("train", *run, "--checkpoint-dir", folder))
    assert (code, last_line) == (130, f"nndl: interrupted; no epoch was complete, so nothing was saved in {folder}")
    assert not (folder / STATE_FILE).exists()


def test_ctrl_c_without_a_checkpoint_dir_says_that_nothing_was_saved(tmp_path, mnist_path):
    code, last_line = interrupt_in_epoch_1(start_nndl("train", "--preset", "ch3-l2-30", "--data", mnist_path))
    assert (code, last_line) == (130, "nndl: interrupted; nothing was saved (--checkpoint-dir DIR keeps every epoch)")


# -- the state, and what --checkpoint-dir and --resume refuse -----------------------------------

SMALL_RUN = ("--preset", "ch1-sigmoid-30", "--train-size", "1000", "--seed", "7", "--quiet")


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory, mnist_path, quick_mnist):
    """A run of two epochs with --checkpoint-dir, --save and --json: the folder, and its outputs."""
    folder = tmp_path_factory.mktemp("saved")
    outputs = ["--save", folder / "run.npz", "--json", folder / "run.json"]
    args = ["train", *SMALL_RUN, "--epochs", "2", "--checkpoint-dir", folder / "run", *outputs]
    assert cli.main([*map(str, args), "--data", str(mnist_path)]) == 0
    return folder


@pytest.fixture
def run_copy(saved_run, tmp_path) -> Path:
    """A copy of the saved run's folder, for a test that resumes it."""
    return Path(shutil.copytree(saved_run / "run", tmp_path / "run"))


def rewrite_state(folder: Path, spec=None, **metadata) -> None:
    state = load_checkpoint(folder / STATE_FILE)
    save_checkpoint(folder / STATE_FILE, spec or state.spec, state.params, {**state.metadata, **metadata}, True)


def test_the_state_holds_the_parameters_the_spec_the_settings_and_every_epoch(saved_run):
    state, run = load_run(saved_run / "run"), read_json(saved_run / "run.json")
    assert [vars(record) for record in state.records] == run["epochs"]
    settings = {"backend": "numpy", "device": "cpu", "seed": 7, "rng": "shared", "mnist_sha256": MNIST_SHA256}
    assert state.settings == settings
    assert (state.spec.to_dict(), state.start) == (run["spec"], "initial parameters from the seed")
    assert_same_params(state.params, load_checkpoint(saved_run / "run.npz").params)
    assert load_checkpoint(saved_run / "run" / STATE_FILE).metadata["epochs_trained"] == 2  # as --load reads it


def test_resume_with_more_epochs_goes_on_like_the_longer_run(nndl, run_copy, tmp_path):
    outputs = ("--save", tmp_path / "a.npz", "--json", tmp_path / "a.json")
    resumed = nndl("train", "--resume", run_copy, "--epochs", 3, *outputs)
    assert resumed.code == 0, resumed.err
    assert "epoch   3/3" in resumed.out and "epoch   2/3" not in resumed.out
    straight = nndl("train", *SMALL_RUN, "--epochs", 3, "--save", tmp_path / "b.npz", "--json", tmp_path / "b.json")
    assert straight.code == 0, straight.err
    assert_same_params(load_checkpoint(tmp_path / "a.npz").params, load_checkpoint(tmp_path / "b.npz").params)
    assert without_timing(read_json(tmp_path / "a.json")) == without_timing(read_json(tmp_path / "b.json"))
    assert load_run(run_copy).spec.training.epochs == 3


def test_resume_of_a_finished_run_says_so_and_writes_its_outputs(nndl, saved_run, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    folder = saved_run / "run"
    result = nndl("train", "--resume", folder, "--save", tmp_path / "again.npz", "--json", tmp_path / "again.json")
    assert result.code == 0, result.err
    assert f"the run in {folder} is finished after epoch 2: ran every epoch; --epochs N" in result.out
    assert read_json(tmp_path / "again.json") == read_json(saved_run / "run.json")
    assert_same_params(load_checkpoint(tmp_path / "again.npz").params, load_checkpoint(saved_run / "run.npz").params)


def test_a_run_that_stopped_early_stays_stopped(nndl, run_copy, monkeypatch):
    forbid_training(monkeypatch)
    state = load_run(run_copy)
    spec = state.spec.with_changes("training", early_stopping_patience=1)
    records = [vars(record) | {"validation_correct": 9000 - record.epoch} for record in state.records]
    rewrite_state(run_copy, spec, history=records)  # epoch 2 did not beat epoch 1
    result = nndl("train", "--resume", run_copy, "--epochs", 10)
    assert result.code == 0, result.err
    assert "is finished after epoch 2: early stopping: no improvement in 1 epochs" in result.out


def test_checkpoint_dir_refuses_a_directory_that_holds_a_run(nndl, saved_run, monkeypatch):
    forbid_training(monkeypatch)
    folder = saved_run / "run"
    before = (folder / STATE_FILE).read_bytes()
    result = nndl("train", *SMALL_RUN, "--checkpoint-dir", folder)
    assert_one_line_error(result, f"--checkpoint-dir {folder} already holds a run", f"--resume {folder}")
    assert (folder / STATE_FILE).read_bytes() == before


def test_resume_refuses_options_that_change_the_run_and_names_them(nndl, saved_run, monkeypatch):
    forbid_training(monkeypatch)
    changes = ("--eta", 0.1, "--rng", "native", "--seed", 8, "--backend", "numpy")  # the run's backend is numpy
    result = nndl("train", "--resume", saved_run / "run", *changes)
    line = assert_one_line_error(result, "training.eta (3.0 to 0.1)", "seed (7 to 8)", "rng (shared to native)")
    assert "backend" not in line and "--allow-changes" in line


def test_resume_with_allow_changes_goes_on_with_them(nndl, run_copy):
    result = nndl("train", "--resume", run_copy, "--epochs", 3, "--eta", 0.25, "--allow-changes")
    assert result.code == 0, result.err
    assert "going on with changes" in result.err and "training.eta (3.0 to 0.25)" in result.err
    state = load_run(run_copy)
    assert [record.eta for record in state.records] == [3.0, 3.0, 0.25]
    assert state.spec.training.eta == 0.25


def test_resume_refuses_a_run_trained_on_another_mnist_file(nndl, run_copy, monkeypatch):
    forbid_training(monkeypatch)
    rewrite_state(run_copy, mnist_sha256="0" * 64)
    assert_one_line_error(nndl("train", "--resume", run_copy), f"mnist_sha256 ({'0' * 64} to {MNIST_SHA256})")


def test_resume_with_fewer_epochs_than_the_run_has(nndl, saved_run, monkeypatch):
    forbid_training(monkeypatch)
    result = nndl("train", "--resume", saved_run / "run", "--epochs", 1)
    assert_one_line_error(result, "--epochs 1", "has trained 2 epochs already")


@pytest.mark.parametrize("option", ["--preset", "--load", "--checkpoint-dir"])
def test_resume_goes_on_with_its_own_spec_and_folder(nndl, saved_run, monkeypatch, option):
    forbid_training(monkeypatch)
    value = {"--preset": "ch1-sigmoid-30", "--load": saved_run / "run.npz", "--checkpoint-dir": saved_run / "other"}
    result = nndl("train", "--resume", saved_run / "run", option, value[option])
    assert_one_line_error(result, f"leave out {option}")


def test_resume_needs_a_run_to_go_on_with(nndl, saved_run, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    assert_one_line_error(nndl("train", "--resume", tmp_path), "no run there", f"--checkpoint-dir {tmp_path}")
    shutil.copy(saved_run / "run.npz", tmp_path / STATE_FILE)  # a checkpoint, not a run's state
    assert_one_line_error(nndl("train", "--resume", tmp_path), "is a checkpoint but not a run's state")
    assert_one_line_error(nndl("train", *SMALL_RUN, "--allow-changes"), "--allow-changes goes with --resume")
