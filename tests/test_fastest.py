"""Tests of `nndl train --backend auto` (conformance/speed/fastest.py): the key, the cache, the measurement, the CLI.

Each test gets an empty cache of its own (no_cache_no_download), never the user's. Most tests replace
the measurement with made-up times; the ones that really time the backends do it on a few hundred images.
"""

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from conformance.backend.registry import backend_names, load_backend
from conformance.data.mnist import PIXELS, Split
from conformance.data.streams import epoch_plan
from conformance.spec.errors import BackendNotInstalledError, NndlError
from conformance.spec.presets import load_preset
from conformance.speed import fastest
from tests.backend_support import untrained_checkpoint
from tests.cli_support import DIVERGING_SPEC, assert_one_line_error, forbid_training, read_json

pytestmark = pytest.mark.usefixtures("no_cache_no_download")

CH1 = load_preset("ch1-sigmoid-30")
FEW_IMAGES = Split(np.full((300, PIXELS), 0.5, dtype=np.float32), np.arange(300) % 10)
SMALL_RUN = ("--preset", "ch1-sigmoid-30", "--train-size", "300", "--epochs", "1", "--quiet")


class Log(list):
    """A `log` that keeps its lines."""

    def __call__(self, line: str) -> None:
        assert "\n" not in line
        self.append(line)


def made_up_times(calls: list):
    """A measure_backends that times nothing: backend i of those it is given takes i + 1 seconds, torch 0.5."""

    def measure(spec, training_split, examples, device, backends):
        calls.append(list(backends))
        return {name: 0.5 if name == "torch" else i + 1.0 for i, name in enumerate(backends)}

    return measure


def not_installed(*missing: str):
    """A load_backend for which the `missing` backends are not installed."""

    def load(name):
        if name in missing:
            raise BackendNotInstalledError(f"the {name} backend is not installed (test)")
        return load_backend(name)

    return load


def choose(log=None, **options) -> fastest.Choice:
    return fastest.fastest_backend(CH1, FEW_IMAGES, "cpu", log if log is not None else Log(), **options)


# -- the key ----------------------------------------------------------------------------------


def key(spec=CH1, device="cpu", examples=5000) -> str:
    return fastest.cache_key(spec, device, examples)


@pytest.mark.parametrize(
    "other",
    [
        key(CH1.with_changes("training", batch_size=100)),
        key(CH1.with_changes("training", dtype="float32")),
        key(CH1.with_changes("training", regularizer="l2", lmbda=5.0)),
        key(device="cuda"),
        key(examples=1000),
        key(load_preset("ch1-sigmoid-100")),
        key(CH1.with_changes("network", cost="cross_entropy")),
        key(load_preset("ch5-depth-2")),
    ],
    ids=["batch size", "dtype", "regularizer", "device", "examples", "hidden size", "cost", "depth"],
)
def test_the_key_changes_with_what_an_epoch_takes(other):
    assert key() != other


def test_the_key_ignores_what_does_not_change_an_epoch():
    changed = CH1.with_changes("training", eta=0.5, epochs=3, shuffle=False).with_changes("data", train_size=1000)
    assert key(changed) == key()


def test_the_key_covers_the_frameworks_and_the_machine():
    conditions = fastest.measurement_conditions(CH1, "cpu", 5000)
    assert set(conditions["backends"]) == set(backend_names())
    assert conditions["backends"]["numpy"]["versions"]["numpy"] == np.__version__
    assert conditions["backends"]["numpy"]["code"]  # a digest of reference/'s files
    assert conditions["machine"]["cpus"] and conditions["machine"]["machine"]


# -- the cache --------------------------------------------------------------------------------


def test_no_cache_measures_now_and_caches_the_answer(monkeypatch):
    calls = []
    monkeypatch.setattr(fastest, "measure_backends", made_up_times(calls))
    choice = choose()
    assert calls == [backend_names()] and not choice.cached
    assert choice.backend == "torch" and choice.cache_path == fastest.cache_path()
    line = choice.describe(CH1, "cpu")
    assert "torch is the fastest installed backend for [784, 30, 10], mini-batch 10, float64, on cpu" in line
    assert "measured now: numpy 1 s, torch 0.5 s, jax 3 s per epoch of 300 images" in line
    assert f"cached in {fastest.cache_path()}" in line
    entry = read_json(fastest.cache_path())[key(examples=300)]
    assert entry["seconds"] == {"numpy": 1.0, "torch": 0.5, "jax": 3.0}
    assert entry["conditions"]["training"]["batch_size"] == 10


def test_a_cached_answer_is_used_without_measuring(monkeypatch):
    monkeypatch.setattr(fastest, "measure_backends", made_up_times([]))
    measured = choose()
    monkeypatch.setattr(fastest, "measure_backends", lambda *args: pytest.fail("measured again"))
    monkeypatch.setattr(fastest, "runnable_backends", lambda *args: pytest.fail("looked for backends to time"))
    cached = choose()
    assert cached.cached and (cached.backend, cached.seconds) == (measured.backend, measured.seconds)
    line = cached.describe(CH1, "cpu")
    assert f"(cached measurement of {measured.measured_on}: numpy 1 s, torch 0.5 s, jax 3 s" in line
    assert "--remeasure" in line


def test_remeasure_measures_even_with_a_cached_answer(monkeypatch):
    calls = []
    monkeypatch.setattr(fastest, "measure_backends", made_up_times(calls))
    choose()
    assert not choose(remeasure=True).cached and len(calls) == 2


def test_each_setting_has_its_own_entry(monkeypatch):
    monkeypatch.setattr(fastest, "measure_backends", made_up_times([]))
    choose()
    fastest.fastest_backend(CH1.with_changes("training", batch_size=100), FEW_IMAGES, "cpu", Log())
    assert len(read_json(fastest.cache_path())) == 2


@pytest.mark.parametrize(
    "contents",
    [
        b"not JSON",
        b"\xff\xfe\x00",
        b"[1, 2]",
        b'{"k": {"seconds": {}, "measured_on": "2026-01-01"}}',
        b'{"k": {"seconds": {"tensorflow": 1.0}, "measured_on": "2026-01-01"}}',
        b'{"k": {"seconds": {"numpy": -1}}}',
    ],
    ids=["not JSON", "not text", "a list", "no times", "unknown backend", "negative time"],
)
def test_a_corrupt_cache_warns_in_one_line_and_measures_again(monkeypatch, contents):
    path = fastest.cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(contents)
    calls, log = [], Log()
    monkeypatch.setattr(fastest, "measure_backends", made_up_times(calls))
    choice = choose(log)
    assert len(calls) == 1 and not choice.cached
    warnings = [line for line in log if "ignoring the cache" in line]
    assert len(warnings) == 1 and str(path) in warnings[0] and "measuring again" in warnings[0]
    assert list(read_json(path)) == [key(examples=300)]  # rewritten, whole


def test_a_cache_that_cannot_be_written_warns_and_still_chooses(monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only file system")

    monkeypatch.setattr(fastest, "measure_backends", made_up_times([]))
    monkeypatch.setattr(fastest, "write_atomically", refuse)
    log = Log()
    choice = choose(log)
    assert choice.backend == "torch" and choice.cache_path is None
    assert any("could not cache" in line and "read-only file system" in line for line in log)
    assert choice.describe(CH1, "cpu").endswith("; not cached)")


# -- which backends are measured --------------------------------------------------------------


def test_a_backend_that_is_not_installed_is_left_out(monkeypatch):
    calls, log = [], Log()
    monkeypatch.setattr(fastest, "load_backend", not_installed("torch"))
    monkeypatch.setattr(fastest, "measure_backends", made_up_times(calls))
    choice = choose(log)
    assert calls == [[name for name in backend_names() if name != "torch"]]
    assert "torch" not in choice.seconds
    assert "--backend auto: leaving out torch: the torch backend is not installed (test)" in log


def test_the_only_installed_backend_is_chosen_without_measuring(monkeypatch):
    monkeypatch.setattr(fastest, "load_backend", not_installed("torch", "jax"))
    monkeypatch.setattr(fastest, "measure_backends", lambda *args: pytest.fail("measured"))
    choice = choose()
    assert (choice.backend, choice.seconds, choice.cache_path) == ("numpy", {}, None)
    assert choice.describe(CH1, "cpu") == "--backend auto: numpy is the only installed backend that runs on cpu"


def test_no_backend_for_the_device_is_one_error_with_each_reason(monkeypatch):
    monkeypatch.setattr(fastest, "load_backend", not_installed("torch", "jax"))
    with pytest.raises(NndlError) as raised:
        fastest.fastest_backend(CH1, FEW_IMAGES, "cuda", Log())
    message = str(raised.value)
    assert message.startswith("--backend auto: no installed backend runs on cuda (numpy: ")
    assert "torch: the torch backend is not installed (test)" in message and "\n" not in message


def test_measuring_really_times_each_backend():
    backends = fastest.runnable_backends("cpu", Log())
    seconds = fastest.measure_backends(CH1, FEW_IMAGES, 100, "cpu", backends)
    assert list(seconds) == list(backends) and all(0 < s < 10 for s in seconds.values())


def counting_backend(epochs: list):
    """A backend whose Model counts the epochs it trains and does nothing else."""

    class Model:
        def __init__(self, spec, params, device):
            pass

        def train_epoch(self, data, plan, eta, on_step=None):
            epochs.append(plan.epoch)

        def parameters(self):
            return []

    return SimpleNamespace(Model=Model, asarray=lambda array, device: array)


@pytest.mark.parametrize(("hopeless_above", "timed"), [(math.inf, fastest.TIMED_EPOCHS), (0.0, 1)])
def test_a_hopeless_backend_is_timed_no_further(hopeless_above, timed):
    epochs = []
    plans = [epoch_plan(CH1, len(FEW_IMAGES), epoch, 0) for epoch in range(1, fastest.TIMED_EPOCHS + 2)]
    backend = counting_backend(epochs)
    fastest._best_epoch_seconds(backend, CH1, [], FEW_IMAGES, "cpu", plans, hopeless_above)
    assert epochs == list(range(1, timed + 2))  # the warm-up, then the timed ones


# -- the command ------------------------------------------------------------------------------


@pytest.mark.usefixtures("quick_mnist")
def test_train_auto_measures_then_uses_the_cache(nndl, tmp_path):
    first = nndl("train", "--backend", "auto", *SMALL_RUN, "--json", tmp_path / "first.json")
    assert first.code == 0, first.err
    chosen = read_json(tmp_path / "first.json")["backend"]
    assert f"--backend auto: {chosen} is the fastest installed backend" in first.err
    assert "measured now: numpy " in first.err and "per epoch of 300 images" in first.err
    assert f"backend {chosen} on cpu" in first.out
    second = nndl("train", "--backend", "auto", *SMALL_RUN, "--json", tmp_path / "second.json")
    assert second.code == 0, second.err
    assert "(cached measurement of " in second.err and "timing" not in second.err
    first_run, second_run = read_json(tmp_path / "first.json"), read_json(tmp_path / "second.json")
    assert second_run["backend"] == chosen
    assert first_run["epochs"][0]["validation_correct"] == second_run["epochs"][0]["validation_correct"]


@pytest.mark.usefixtures("quick_mnist")
def test_train_auto_trains_as_the_chosen_backend_would(nndl, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.setattr(fastest, "measure_backends", made_up_times([]))  # torch is the fastest
    auto = nndl("train", "--backend", "auto", *SMALL_RUN, "--json", tmp_path / "auto.json")
    named = nndl("train", "--backend", "torch", *SMALL_RUN, "--json", tmp_path / "torch.json")
    assert auto.code == named.code == 0, auto.err + named.err
    auto_run, named_run = read_json(tmp_path / "auto.json"), read_json(tmp_path / "torch.json")
    assert auto_run["backend"] == "torch"
    assert auto_run["epochs"][0]["validation_correct"] == named_run["epochs"][0]["validation_correct"]


@pytest.mark.usefixtures("quick_mnist")
def test_train_auto_on_a_device_no_backend_has(nndl, monkeypatch):
    if any(_sees_a_gpu(name) for name in ("torch", "jax")):
        pytest.skip("this machine has a GPU")
    monkeypatch.setattr(fastest, "measure_backends", lambda *args: pytest.fail("measured"))
    assert_one_line_error(
        nndl("train", "--backend", "auto", "--device", "cuda", *SMALL_RUN),
        "--backend auto: no installed backend runs on cuda",
        "numpy: --device cuda: the numpy backend runs on the CPU only",
    )


def _sees_a_gpu(backend: str) -> bool:
    try:
        load_backend(backend).resolve_device("cuda")
    except NndlError:
        return False
    return True


@pytest.mark.usefixtures("quick_mnist")
def test_train_auto_names_the_backend_that_diverged_while_timed(nndl, tmp_path):
    spec_file = tmp_path / "diverges.toml"
    spec_file.write_text(DIVERGING_SPEC)
    result = nndl("train", "--backend", "auto", "--spec", spec_file, "--train-size", "300", "--quiet")
    assert result.code == 2 and "Traceback" not in result.err
    progress, error = result.err.strip().splitlines()
    assert progress.startswith("--backend auto: timing numpy, ")
    assert error.startswith("nndl: error: --backend auto: timing numpy on 300 training images: training diverged")
    assert not fastest.cache_path().exists()


def test_remeasure_goes_with_auto(nndl, monkeypatch):
    forbid_training(monkeypatch)
    assert_one_line_error(nndl("train", "--remeasure", *SMALL_RUN), "--remeasure goes with --backend auto")


def test_evaluate_has_no_auto(nndl, tmp_path):
    checkpoint = untrained_checkpoint(tmp_path)
    assert_one_line_error(nndl("evaluate", checkpoint, "--backend", "auto"), "unknown backend 'auto'")


def test_the_cache_is_json_in_the_nndl_cache(monkeypatch, tmp_path):
    assert fastest.cache_path() == tmp_path / "xdg-cache" / "nndl" / "fastest-backend.json"
    monkeypatch.setattr(fastest, "measure_backends", made_up_times([]))
    choose()
    assert isinstance(json.loads(fastest.cache_path().read_text()), dict)
