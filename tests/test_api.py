"""The Python API (`from conformance import ...`, README "Python API"): the README's example runs as
written, and `train` gives bitwise the parameters `nndl train` gives for the same arguments,
resumed runs included, since the command calls it."""

import re
from pathlib import Path

import pytest

import conformance
from conformance import evaluate_checkpoint, lessons, load_preset, train
from conformance.run.checkpoint import load_checkpoint
from conformance.spec.errors import NndlError
from tests.cli_support import assert_same_params, read_json

README = Path(__file__).resolve().parents[1] / "README.md"
SMALL = ("--epochs", "2", "--train-size", "1000")
DROPOUT_L2 = {"epochs": 3, "regularizer": "l2", "lmbda": 0.1}


def readme_example() -> str:
    """The Python block of the README's "Python API" section."""
    section = README.read_text().split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_readmes_example_trains_two_backends_and_compares_their_parameters(mnist_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    monkeypatch.setenv("NNDL_DATA", str(mnist_path))
    exec(compile(readme_example(), "README.md (Python API)", "exec"), {})  # noqa: S102  (the README's own code)
    difference = float(capsys.readouterr().out.split()[-1])
    assert 0 < difference < 1e-6  # float64, one epoch of 5,000 steps: round-off, grown, but round-off


def small_spec(epochs: int = 2):
    """ch3-xent-30 on the first 1,000 training images, as `nndl train --epochs E --train-size 1000` makes it."""
    spec = load_preset("ch3-xent-30").with_changes("training", epochs=epochs)
    return spec.with_changes("data", train_size=1000)


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_train_gives_bitwise_the_parameters_of_nndl_train(nndl, mnist_path, tmp_path, backend):
    if backend != "numpy":
        pytest.importorskip(backend)
    saved = tmp_path / "cli.npz"
    command = nndl("train", "--preset", "ch3-xent-30", *SMALL, "--backend", backend, "--seed", 3, "--save", saved)
    assert command.code == 0, command.err
    run = train(small_spec(), backend, seed=3, data=mnist_path)
    assert run.epochs_trained == 2
    assert run.settings == {"backend": backend, "device": "cpu", "seed": 3, "rng": "shared"}
    assert_same_params(run.parameters, load_checkpoint(saved).params)


def test_a_resumed_run_of_the_api_ends_bitwise_as_the_resumed_run_of_nndl_train(nndl, mnist_path, tmp_path):
    cli_folder, api_folder = tmp_path / "cli", tmp_path / "api"
    first = ("train", "--preset", "ch3-xent-30", "--train-size", "1000", "--seed", 1)
    assert nndl(*first, "--epochs", 1, "--checkpoint-dir", cli_folder).code == 0
    assert nndl("train", "--resume", cli_folder, "--epochs", 3, "--json", tmp_path / "cli.json").code == 0

    train(small_spec(epochs=1), seed=1, data=mnist_path, checkpoint_dir=api_folder)
    resumed = train(small_spec(epochs=3), data=mnist_path, checkpoint_dir=api_folder, resume=True)
    assert [record.epoch for record in resumed.history.records] == [1, 2, 3]
    assert resumed.settings["seed"] == 1  # the saved run's, as nothing else was given
    assert_same_params(resumed.parameters, load_checkpoint(cli_folder / "last.npz").params)
    assert_same_params(resumed.parameters, load_checkpoint(api_folder / "last.npz").params)
    cli_epochs = read_json(tmp_path / "cli.json")["epochs"]
    assert [epoch["test_correct"] for epoch in cli_epochs] == [r.test_correct for r in resumed.history.records]


def test_a_resumed_run_that_changes_the_spec_is_refused(mnist_path, tmp_path):
    train(small_spec(epochs=1), seed=1, data=mnist_path, checkpoint_dir=tmp_path)
    changed = small_spec(epochs=2).with_changes("training", eta=0.1)
    with pytest.raises(NndlError, match=r"changes the run's training.eta \(0.5 to 0.1\)"):
        train(changed, data=mnist_path, checkpoint_dir=tmp_path, resume=True)


def test_evaluate_checkpoint_gives_what_nndl_evaluate_prints(nndl, mnist_path, tmp_path):
    saved = tmp_path / "net.npz"
    assert nndl("train", "--preset", "ch1-sigmoid-30", *SMALL, "--save", saved).code == 0
    printed = nndl("evaluate", saved).out.splitlines()
    scores = evaluate_checkpoint(saved, data=mnist_path)
    assert [score.split for score in scores] == ["validation", "test"]
    for line, score in zip(printed, scores, strict=True):
        assert line.split()[:4] == [score.split, str(score.correct), "/", str(score.size)]
        assert score.accuracy == score.correct / score.size and score.cost > 0


def test_conform_returns_the_results_as_data(mnist_path):
    outcome = conformance.conform(["numpy", "tests.toy_backend"], case_filter="grad sigmoidx1 ", data=mnist_path)
    assert outcome.backends == ["numpy", "toy"] and outcome.conforms and not outcome.failures
    assert {result.passed for result in outcome.ran} == {True} and len(outcome.ran) == 3  # f64, f32, numpy vs fd


def test_the_lessons_are_listed_in_the_order_nndl_lesson_lists_them(nndl):
    listed = nndl("lesson").out
    names = [concept.name for concept in lessons()]
    assert names and [listed.index(f"  {name} ") for name in names] == sorted(
        listed.index(f"  {name} ") for name in names
    )


def test_train_without_a_spec_says_what_to_name():
    with pytest.raises(NndlError, match="name the network"):
        train()


def test_the_api_is_what_the_readme_lists():
    section = README.read_text().split("## Python API", 1)[1].split("\n## ", 1)[0]
    for name in conformance.__all__:
        assert f"`{name}" in section or f" {name}(" in section, f"the README's Python API does not list {name}"


def test_a_spec_that_does_not_fit_mnist_is_one_clear_error(mnist_path):
    narrow = load_preset("ch1-sigmoid-30").with_changes("network", input=100)
    with pytest.raises(NndlError, match="the spec: network.input is 100, but MNIST has 784 features"):
        train(narrow, data=mnist_path)
