"""Sweeps on Dask (conformance/cluster): `nndl reproduce` and `nndl ensemble` with --workers and --cluster.

- A local cluster of two workers reproduces ch3-l2-30 (2 runs, 2 epochs, 2,000 images) in numpy and
  in jax; each run's parameters are bitwise those of the same `nndl train` run alone, with the
  threads the workers had.
- A scheduler and a worker started apart (`dask scheduler`, `dask worker`), as on a cluster: a
  worker killed with SIGKILL in the middle of a run, and the run goes on from its last complete
  epoch on the worker the nanny starts again, bitwise as the run alone; a worker without jax fails
  the jax run in one line while the numpy run goes on; a GPU run on workers without one says so.
- Bad input, each in one line: an unreachable --cluster, Dask not installed, --workers with
  --cluster, a shortened reproduction without --out.
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from threadpoolctl import threadpool_limits

from conformance.book import reproduce
from conformance.cluster import sweep as sweep_module
from conformance.cluster.place import Place, usable_cores
from conformance.cluster.sweep import TaskResult, open_sweep
from conformance.cluster.workers import worker_environment
from conformance.run.checkpoint import load_checkpoint
from conformance.run.resume import STATE_FILE, load_run
from conformance.spec.errors import NndlError
from conformance.spec.presets import load_preset
from tests.cli_support import assert_one_line_error, assert_same_params

pytest.importorskip("distributed")

SHORT = ("--runs", "2", "--epochs", "2", "--train-size", "2000")


def blas_threads() -> list[int]:
    """The thread counts of this process's BLAS libraries, as threadpoolctl reads them."""
    import threadpoolctl

    return sorted({info["num_threads"] for info in threadpoolctl.threadpool_info()})


def test_a_local_workers_blas_computes_with_its_share_of_the_cores():
    """The nanny sets OMP_NUM_THREADS after NumPy's BLAS has started with a thread per core: each task holds it
    to the worker's share (before, two workers on this 2-core machine had 2 BLAS threads each)."""
    with open_sweep(Place(workers=2), lambda line: None, quiet=True) as sweep:
        results = sweep.map(blas_threads, [(), ()], ["a", "b"])
    share = max(1, usable_cores() // 2)
    assert [result.value for result in results] == [[share], [share]]


def alone(mnist_path, folder: Path, backend: str, seed: int, epochs: int, train_size: int, threads: int):
    """`nndl train` of one run, alone in a process of its own with `threads` threads, as a worker has them."""
    path = folder / f"alone-{backend}-seed{seed}.npz"
    command = [sys.executable, "-m", "conformance.cli", "train", "--preset", "ch3-l2-30", "--backend", backend]
    command += ["--seed", str(seed), "--epochs", str(epochs), "--train-size", str(train_size), "--quiet"]
    command += ["--data", str(mnist_path), "--save", str(path)]
    process = subprocess.Popen(command, env={**os.environ, **worker_environment(threads)}, stdout=subprocess.DEVNULL)
    return process, path


def runs_alone(mnist_path, folder, backend, seeds, epochs, train_size, threads):
    """The parameters of each seed's run alone (the runs in parallel processes)."""
    started = [alone(mnist_path, folder, backend, seed, epochs, train_size, threads) for seed in seeds]
    for process, _ in started:
        assert process.wait(timeout=300) == 0
    return [load_checkpoint(path).params for _, path in started]


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_a_local_cluster_of_two_workers_trains_each_run_as_it_trains_alone(backend, nndl, mnist_path, tmp_path):
    if backend == "jax":
        pytest.importorskip("jax")
    out = tmp_path / "out"
    result = nndl("reproduce", "ch3-l2-30", *SHORT, "--backend", backend, "--workers", "2", "--out", out,
                  "--data", mnist_path)  # fmt: skip
    assert result.code == 0, result.err
    assert "sweep on a local Dask cluster of 2 worker processes: 2 workers, 2 threads" in result.err
    dashboard = "dashboard at http://" if sweep_module.importlib.util.find_spec("bokeh") else "no dashboard"
    assert dashboard in result.err
    for seed in (0, 1):  # each run's epochs, sent back by its worker
        assert f"ch3-l2-30 seed {seed}: epoch 2/2, validation accuracy" in result.err
    threads = max(1, usable_cores() // 2)
    alone_params = runs_alone(mnist_path, tmp_path, backend, [0, 1], 2, 2000, threads)
    for seed, params in zip((0, 1), alone_params):
        swept = load_checkpoint(out / "runs" / f"ch3-l2-30-seed{seed}" / STATE_FILE)
        assert swept.metadata["epochs_trained"] == 2
        assert_same_params(swept.params, params)
        record = json.loads((out / "runs" / f"ch3-l2-30-seed{seed}.json").read_text())
        assert record["ran_on"]["settings"]["OMP_NUM_THREADS"] == str(threads)  # the threads it ran with
    summary = json.loads((out / "ch3-l2-30.json").read_text())
    assert summary["changes_from_preset"] == ["epochs 2 (the preset's 30)", "train_size 2000 (the preset's None)"]


# -- a scheduler and a worker started apart, as on a cluster -----------------------------------


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`dask scheduler` and one `dask worker` (one process, one thread, under a nanny), in processes of
    their own; the worker cannot import jax (a `jax` on its path that fails to import)."""
    folder = tmp_path_factory.mktemp("cluster")
    no_jax = folder / "no-jax" / "jax"
    no_jax.mkdir(parents=True)
    (no_jax / "__init__.py").write_text("raise ImportError('jax is not installed on this worker')\n")
    scheduler_file = folder / "scheduler.json"
    dask = [sys.executable, "-m", "dask"]
    scheduler = subprocess.Popen([*dask, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file",
                                  str(scheduler_file)], stderr=subprocess.DEVNULL)  # fmt: skip
    worker_env = {**os.environ, **worker_environment(1), "PYTHONPATH": str(no_jax.parent)}
    worker = subprocess.Popen([*dask, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "1",
                               "--nthreads", "1", "--no-dashboard"], env=worker_env, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        address = _wait_for_worker(scheduler_file)
        yield address, worker
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=30)


def _wait_for_worker(scheduler_file: Path) -> str:
    from distributed import Client

    deadline = time.monotonic() + 60
    while not scheduler_file.exists():
        assert time.monotonic() < deadline, "dask scheduler did not start"
        time.sleep(0.1)
    address = json.loads(scheduler_file.read_text())["address"]
    with Client(address, timeout=30) as client:
        client.wait_for_workers(1, timeout=60)
    return address


def _saved_epoch(folder: Path) -> int:
    return load_run(folder).last_saved_epoch if (folder / STATE_FILE).exists() else 0


def test_a_worker_killed_mid_run_is_replaced_and_the_run_goes_on_from_its_checkpoint(
    cluster, nndl, mnist_path, tmp_path
):
    address, worker = cluster
    out, epochs = tmp_path / "out", 6
    run_folder = out / "runs" / "ch3-l2-30-seed0"
    command = ("reproduce", "ch3-l2-30", "--runs", "1", "--epochs", epochs, "--train-size", "5000",
               "--cluster", address, "--out", out, "--data", mnist_path)  # fmt: skip
    outcome = {}
    client = threading.Thread(target=lambda: outcome.update(result=nndl(*command)))
    client.start()
    deadline = time.monotonic() + 120
    while _saved_epoch(run_folder) < 1:  # the run has saved its first epoch: kill its worker
        assert time.monotonic() < deadline and client.is_alive(), outcome
        time.sleep(0.02)
    children = psutil.Process(worker.pid).children(recursive=True)
    (worker_process,) = [child for child in children if any("spawn_main" in part for part in child.cmdline())]
    worker_process.send_signal(signal.SIGKILL)
    worker_process.wait(timeout=30)
    saved_at_the_kill = _saved_epoch(run_folder)
    assert 1 <= saved_at_the_kill < epochs  # killed in the middle of the run
    client.join(timeout=240)
    result = outcome["result"]
    assert result.code == 0, result.err
    assert f"ch3-l2-30 seed 0: went on after epoch {saved_at_the_kill}, as saved in" in result.err
    (params,) = runs_alone(mnist_path, tmp_path, "numpy", [0], epochs, 5000, threads=1)
    assert_same_params(load_checkpoint(run_folder / STATE_FILE).params, params)


def test_an_ensembles_members_are_tasks_that_train_as_they_train_here(cluster, nndl, tmp_path):
    address, _ = cluster
    members = ("ensemble", "--preset", "ch3-l2-30", "--members", "2", "--epochs", "1", "--train-size", "500")
    swept = nndl(*members, "--cluster", address, "--runs-dir", tmp_path / "swept", "--quiet")
    assert swept.code == 0, swept.err
    assert "member 2 (seed 1): epoch 1/1, validation accuracy" in swept.err
    with threadpool_limits(1):  # the worker's one thread
        here = nndl(*members, "--one-by-one", "--save-members", tmp_path / "here", "--quiet")
    assert here.code == 0, here.err
    assert votes(swept.out) == votes(here.out) and len(votes(here.out)) == 3  # each member's accuracy, the vote's
    for member in ("member-1", "member-2"):
        params = [load_checkpoint(tmp_path / run / member / STATE_FILE).params for run in ("swept", "here")]
        assert_same_params(*params)


def votes(out: str) -> list[str]:
    """Each member's test accuracy and the vote's, as `nndl ensemble` prints them."""
    return [line for line in out.splitlines() if ": test accuracy" in line]


def run_ch3(backend: str, progress=None) -> str:
    """A sweep's function: import the backend on the worker, and say which it was."""
    from conformance.backend.registry import load_backend

    return load_backend(backend).NAME


def test_a_worker_without_the_backend_fails_that_run_in_one_line_and_the_others_go_on(cluster, mnist_path, tmp_path):
    address, _ = cluster
    spec = load_preset("ch3-l2-30").with_changes("training", epochs=1).with_changes("data", train_size=200)
    arguments = [(spec, backend, "cpu", 0, str(mnist_path), tmp_path / backend) for backend in ("numpy", "jax")]
    with open_sweep(Place(address=address), log=lambda line: None, quiet=True) as sweep:
        numpy_run, jax_run = sweep.map(reproduce.train_seed, arguments, ["the numpy run", "the jax run"])
    assert not numpy_run.failed and numpy_run.value.record["backend"] == "numpy", numpy_run.error
    assert jax_run.failed and "jax" in jax_run.error and "\n" not in jax_run.error
    assert not (tmp_path / "jax" / STATE_FILE).exists()


def test_a_gpu_run_asks_for_a_gpu_and_workers_without_one_say_so(cluster):
    address, _ = cluster
    with open_sweep(Place(address=address), log=lambda line: None, quiet=True) as sweep:
        (run,) = sweep.map(run_ch3, [("numpy",)], ["a cuda run"], resources={"GPU": 1})
    assert run.failed and "offers GPU=1" in run.error and address in run.error


def test_cpu_runs_ask_for_no_worker_resource_and_cuda_runs_for_a_gpu(tmp_path):
    asked = []

    def map_runs(function, arguments, names, resources=None, progress=False):
        asked.append(resources)
        return [TaskResult(name, error="not run: this test only asks what it needs") for name in names]

    spec = load_preset("ch3-l2-30")
    for device in ("cpu", "cuda"):
        with pytest.raises(NndlError, match="1 of 1 runs failed .seed 0: not run"):
            reproduce.reproduce(spec, "numpy", device, None, [0], tmp_path / device, lambda line: None, None, map_runs)
    assert asked == [None, {"GPU": 1}]


# -- bad input, each in one line --------------------------------------------------------------


def test_an_unreachable_cluster_is_one_line_naming_it_within_the_timeout(nndl, monkeypatch, tmp_path):
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT_S", 2)
    start = time.monotonic()
    result = nndl("reproduce", "ch3-l2-30", "--cluster", "tcp://127.0.0.1:9", "--out", tmp_path)
    assert time.monotonic() - start < 15
    assert_one_line_error(result, "tcp://127.0.0.1:9", "within 2 s")


def test_the_cluster_address_comes_from_the_environment_too(nndl, monkeypatch, tmp_path):
    monkeypatch.setattr(sweep_module, "CONNECT_TIMEOUT_S", 1)
    monkeypatch.setenv("NNDL_CLUSTER", "tcp://127.0.0.1:9")
    assert_one_line_error(nndl("reproduce", "ch3-l2-30", "--out", tmp_path), "--cluster tcp://127.0.0.1:9")


def test_without_dask_the_options_name_the_extra_and_without_them_nothing_needs_dask(
    nndl, mnist_path, monkeypatch, tmp_path
):
    for name in ("dask", "distributed"):
        monkeypatch.setitem(sys.modules, name, None)  # `import distributed` raises ImportError
    assert_one_line_error(nndl("reproduce", "ch3-l2-30", "--workers", "2"), "pip install 'nndl[cluster]'")
    args = ("ch3-l2-30", "--runs", "1", "--epochs", "1", "--train-size", "200", "--out", tmp_path, "--quiet")
    result = nndl("reproduce", *args, "--data", mnist_path)
    assert result.code == 0 and "ch3-l2-30: ours" in result.out, result.err


@pytest.mark.parametrize(
    "options, fragments",
    [
        (("--workers", "2", "--cluster", "tcp://x:1"), ("give one of the two",)),
        (("--workers", "many"), ("--workers 'many'",)),
        (("--workers", "-1"), ("--workers -1",)),
        (("--epochs", "5"), ("--epochs", "--out DIR")),
        (("--train-size", "1000"), ("--train-size", "--out DIR")),
    ],
)
def test_bad_sweep_options_are_one_line(nndl, options, fragments):
    assert_one_line_error(nndl("reproduce", "ch3-l2-30", *options), *fragments)


def test_an_ensemble_on_workers_needs_a_runs_dir(nndl):
    result = nndl("ensemble", "--preset", "ch3-l2-30", "--members", "2", "--workers", "2")
    assert_one_line_error(result, "--runs-dir DIR")


def test_a_shortened_reproduction_stays_out_of_the_results_table(tmp_path):
    spec = load_preset("ch3-l2-30").with_changes("training", "--epochs", epochs=5)
    summary = reproduce.Reproduction(spec, "numpy", "cpu", [0], [90.0]).to_dict()
    (tmp_path / "ch3-l2-30.json").write_text(json.dumps(summary))
    with pytest.raises(NndlError, match="not the book's protocol"):
        reproduce.results_table(tmp_path)


def test_ctrl_c_stops_the_sweep_and_says_how_to_go_on(nndl, mnist_path, monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt("epoch 1 of 2 is saved")

    monkeypatch.setattr(reproduce, "train_in_folder", interrupted)
    result = nndl("reproduce", "ch3-l2-30", *SHORT, "--out", tmp_path, "--data", mnist_path)
    assert result.code == 130
    assert "0 of 2 runs finished (epoch 1 of 2 is saved)" in result.err
    assert "the same command goes on from there" in result.err


def test_the_sweeps_results_come_back_in_order_with_errors_as_lines():
    with open_sweep(None, log=lambda line: None, quiet=True) as sweep:
        results = sweep.map(run_ch3, [("numpy",), ("no.such.backend",)], ["a", "b"])
    assert [result.name for result in results] == ["a", "b"]
    assert results[0].value == "numpy" and not results[0].failed
    assert results[1].failed and "no.such.backend" in results[1].error and "\n" not in results[1].error
