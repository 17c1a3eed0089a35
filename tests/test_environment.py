"""Every record says what it ran on: the versions, the processor, the cores and each framework's threads.

A float32 conformance row once passed on one machine and failed on another, and nothing in its
record said which (conformance/suite/tolerances.py). `conform`, `bench`, `train` and `reproduce` now
write `ran_on` into their JSON, and the conformance report's header says it in one line.
"""

import json
import os
import platform

import numpy as np
import pytest

import reference
from conformance.backend import environment
from conformance.backend.registry import BUILT_IN, BUILT_IN_FRAMEWORKS, load_backend
from conformance.book import reproduce
from conformance.spec.errors import BackendNotInstalledError
from tests.cli_support import SMALL_BENCH, read_json
from tests.test_reproduce import tiny_preset


def installed_built_ins() -> dict:
    backends = {}
    for name in BUILT_IN:
        try:
            backends[name] = load_backend(name)
        except BackendNotInstalledError:
            continue
    return backends


def test_the_record_names_the_versions_the_processor_the_cores_and_the_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    record = environment.describe({"numpy": reference}, "cpu")
    assert record["python"] == platform.python_version()
    assert record["versions"]["numpy"] == np.__version__
    assert set(BUILT_IN_FRAMEWORKS) <= set(record["versions"])  # None where not installed
    assert record["cores"] == os.cpu_count() and 1 <= record["usable_cores"] <= record["cores"]
    assert record["processor"]["model"] and record["processor"]["machine"] == platform.machine()
    assert record["settings"]["OMP_NUM_THREADS"] == "2"
    assert record["threads"]["numpy"]["frameworks"] == ["numpy"]
    assert record["threads"]["numpy"]["threads"] >= 1
    assert record["device"] == "cpu"


def test_the_processors_vector_extensions_are_read_from_cpuinfo(tmp_path, monkeypatch):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nmodel name : Test CPU 9000\nflags : fpu sse4_2 avx avx2 fma avx512f\n")
    monkeypatch.setattr(environment, "CPUINFO", cpuinfo)
    processor = environment.describe({}, "cpu")["processor"]
    assert processor["model"] == "Test CPU 9000"
    assert processor["vector_extensions"] == ["sse4_2", "avx", "avx2", "fma", "avx512f"]


def test_the_built_in_frameworks_are_every_built_in_backends_frameworks():
    declared = {"numpy"}.union(*(backend.FRAMEWORKS for backend in installed_built_ins().values()))
    assert declared <= set(BUILT_IN_FRAMEWORKS)


def test_each_built_in_backend_says_how_many_threads_it_computes_with():
    for name, backend in installed_built_ins().items():
        threads = backend.threads()
        assert threads["summary"], name
        assert threads["threads"] is None or threads["threads"] >= 1, name


def test_the_summary_is_one_line_with_every_backends_versions_and_threads():
    backends = installed_built_ins()
    record = environment.describe(backends, "cpu")
    line = environment.summary(record)
    assert "\n" not in line and line.startswith("ran on: ") and record["processor"]["model"] in line
    for name, backend in backends.items():
        for framework in backend.FRAMEWORKS:
            assert f"{framework} {record['versions'][framework]}" in line
        assert record["threads"][name]["summary"] in line


def test_conform_writes_what_it_ran_on_and_says_it_in_the_header(nndl, tmp_path):
    out = tmp_path / "conform.json"
    result = nndl(
        "conform",
        "--case",
        "grad tanhx3 sigmoid/quadratic l2 no-dropout large float64",
        "--backends",
        "numpy,tests.toy_backend",
        "--json",
        out,
    )
    record = read_json(out)
    assert result.code == 0 and record["ran_on"]["threads"]["numpy"]["threads"] >= 1
    assert "ran on: " in result.out and f"numpy {np.__version__}" in result.out


def test_train_writes_what_it_ran_on(nndl, tmp_path):
    out = tmp_path / "run.json"
    nndl(
        "train",
        "--preset",
        "ch1-sigmoid-30",
        "--epochs",
        "1",
        "--train-size",
        "300",
        "--backend",
        "numpy",
        "--json",
        out,
    )
    assert read_json(out)["ran_on"]["threads"]["numpy"]["frameworks"] == ["numpy"]


def test_bench_writes_what_it_ran_on_for_every_backend_it_timed(nndl, tmp_path):
    out = tmp_path / "bench.json"
    result = nndl("bench", *SMALL_BENCH, "--backends", "numpy", "--json", out)
    assert result.code == 0, result
    assert list(read_json(out)["ran_on"]["threads"]) == ["numpy"]


def test_reproduce_writes_what_each_run_ran_on(mnist, tmp_path):
    spec, splits = tiny_preset(mnist)
    reproduce.reproduce(spec, "numpy", "cpu", splits, [0], tmp_path, log=lambda line: None)
    run = json.loads((tmp_path / "runs" / "ch3-xent-30-seed0.json").read_text())
    summary = json.loads((tmp_path / "ch3-xent-30.json").read_text())
    assert run["ran_on"]["threads"]["numpy"]["threads"] >= 1
    assert summary["runs"][0]["ran_on"] == run["ran_on"]


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_a_framework_backend_reports_its_own_threads(backend):
    module = installed_built_ins().get(backend)
    if module is None:
        pytest.skip(f"{backend} is not installed")
    threads = module.threads()
    if backend == "torch":
        assert threads["threads"] >= 1 and threads["cpu_capability"]
    else:
        assert threads["cpu_devices"] >= 1
