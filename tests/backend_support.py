"""What the tests of the framework backends (torch_impl, jax_impl) share: small runs of `nndl train`
and `nndl evaluate`, what they print and save, and pinning torch to one thread."""

import re
from contextlib import contextmanager
from pathlib import Path

from conformance import cli
from conformance.data.streams import initial_parameters
from conformance.run.checkpoint import load_checkpoint, save_checkpoint
from conformance.spec.presets import load_preset
from conformance.spec.spec import load_spec
from tests.cli_support import Result, read_json

PRESET = "ch3-xent-30"  # [784, 30, 10], cross-entropy: learns something in a few hundred steps
TRAINED = "ch3-l2-30"  # the same with L2, so that evaluation's cost has a regulariser's term
SMALL = ("--preset", PRESET, "--train-size", "500", "--epochs", "2", "--quiet")
PRECIOUS = "the user's own file"
EVALUATE_LINE = re.compile(r"^(validation|test)\s+(\d+) / (\d+)\s+\(([\d.]+)%\)\s+cost (\S+)$")


@contextmanager
def one_torch_thread():
    """Torch's intra-op threads spin while they wait: on 2 cores shared with another busy process,
    a 784-30-10 epoch took 40 to 90 times longer with 2 threads than with 1. These nets are too
    small to gain from a second thread, so the tests run on one and stay fast on a loaded machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def cli_run(mnist_path, *args) -> None:
    """`nndl train ...` for module fixtures, which cannot use capsys."""
    assert cli.main(["train", *map(str, args), "--data", str(mnist_path)]) == 0


def correct_counts(run: dict) -> list[tuple[int, int]]:
    return [(epoch["validation_correct"], epoch["test_correct"]) for epoch in run["epochs"]]


def evaluated(result: Result) -> dict:
    """`nndl evaluate`'s lines as {split: (correct, total, cost)}."""
    assert result.code == 0, result.err
    figures = {}
    for line in result.out.splitlines():
        match = EVALUATE_LINE.match(line)
        if match:
            figures[match[1]] = (int(match[2]), int(match[3]), float(match[5]))
    assert set(figures) == {"validation", "test"}, result.out
    return figures


def splits(mnist, train_size):
    return {"training": mnist.training.first(train_size), "validation": mnist.validation, "test": mnist.test}


def existing(path: Path) -> Path:
    path.write_text(PRECIOUS)
    return path


TRAINED_RUN = ("--preset", TRAINED, "--train-size", "500", "--epochs", "2", "--quiet")


def trained_with(backend, seed, tmp_path_factory, mnist_path) -> dict:
    """100 SGD steps of ch3-l2-30 (500 images, 2 epochs) with one backend: its .npz and .json."""
    folder = tmp_path_factory.mktemp(f"{backend}-trained")
    outputs = {"save": folder / f"{backend}.npz", "json": folder / f"{backend}.json"}
    cli_run(
        mnist_path,
        *("--backend", backend, *TRAINED_RUN, "--seed", seed, "--save", outputs["save"], "--json", outputs["json"]),
    )
    return outputs


def untrained_checkpoint(folder: Path) -> Path:
    """ch3-l2-30's initial parameters as a checkpoint: something to evaluate where no training is due."""
    spec = load_preset(TRAINED)
    path = Path(folder) / "untrained.npz"
    save_checkpoint(path, spec, initial_parameters(spec.network, seed=0), {"backend": "numpy", "epochs_trained": 0})
    return path


def train_small(nndl, folder: Path, name: str, backend: str, *args) -> tuple[dict, list]:
    """A small run (500 images, 2 epochs) with one backend; its JSON and its saved parameters."""
    json_path, saved = folder / f"{name}.json", folder / f"{name}.npz"
    small = ("--backend", backend, "--train-size", "500", "--epochs", "2", "--quiet")
    result = nndl("train", *small, *args, "--json", json_path, "--save", saved)
    assert result.code == 0, result.err
    return read_json(json_path), load_checkpoint(saved).params


def dropout_spec_file(nndl, folder: Path, dropout: float) -> Path:
    """`nndl presets --show ch3-xent-30`, edited: default init, and dropout on the output layer's input."""
    shown = nndl("presets", "--show", PRESET)
    assert shown.code == 0
    output_layer = 'size = 10, activation = "sigmoid", dropout = 0.0'
    assert output_layer in shown.out and 'init = "large"' in shown.out
    text = shown.out.replace(output_layer, output_layer.replace("0.0", repr(dropout)))
    path = folder / f"dropout-{dropout}.toml"
    path.write_text(text.replace('init = "large"', 'init = "default"'))
    spec = load_spec(path)
    assert [layer.dropout for layer in spec.network.layers] == [0.0, dropout]
    return path
