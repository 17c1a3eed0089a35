"""The configurations that conformance checks: a gradient matrix and a set of training runs.

The gradient matrix crosses every choice the spec offers for a dense network: hidden
activation, cost (each with its output layer), regulariser, dropout on or off, initialisation,
and one to four hidden layers. `--full` checks the whole product in float64; `--quick` checks
a covering subset in which every pair of choices (say, ReLU with L1, or softmax with dropout)
still appears at least once. Both add float32 rows for that covering subset.

A second matrix does the same for the chapter 6 convolutional nets: one or two conv-pool
layers, max pooling with either tie rule or L2 pooling, the hidden activation, the regulariser,
dropout on the dense layers, and network3's or the default initialisation.

The trajectories are the book's presets and a few variants that reach the choices the presets
do not (L1, dropout with ReLU and softmax, the chapter 6 net with L2 pooling or dropout),
trained from the same initial parameters, batch order and dropout masks by every backend.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from conformance.spec.parts import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATION_OF_COST, REGULARIZERS
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec

GRADIENT_FACTORS = {
    "activation": HIDDEN_ACTIVATIONS,
    "cost": tuple(OUTPUT_ACTIVATION_OF_COST),
    "regularizer": REGULARIZERS,
    "dropout": (False, True),
    "init": ("large", "default"),  # network3's init is the conv matrix's
    "depth": (1, 2, 3, 4),
}
CONV_GRADIENT_FACTORS = {
    "conv_layers": (1, 2),
    "pooling": ("max-first", "max-all", "l2"),  # max pooling with each tie rule, and L2 pooling
    "activation": HIDDEN_ACTIVATIONS,
    "regularizer": REGULARIZERS,
    "dropout": (False, True),
    "init": ("network3", "default"),
}
CONV_FILTERS = (4, 6)  # small conv layers (the book's have 20 and 40 filters): the same math, checked faster
HIDDEN_SIZE = 30  # the book's chapter 1 and 5 hidden layers
BATCH_SIZE = 10
GRADIENT_TRAINING_SIZE = 1000  # the n of lambda / n, and the examples batches are drawn from
LMBDA = 5.0  # with n = 1000, lambda / n = 0.005: the penalty's gradient is not lost in the data's
INPUT_DROPOUT, HIDDEN_DROPOUT = 0.2, 0.5  # the usual rates for a dropout net's input and hidden layers


@dataclass(frozen=True)
class GradientCase:
    activation: str
    cost: str
    regularizer: str
    dropout: bool
    init: str
    depth: int
    dtype: str = "float64"

    @property
    def name(self) -> str:
        dropout = "dropout" if self.dropout else "no-dropout"
        return (
            f"grad {self.activation}x{self.depth} {OUTPUT_ACTIVATION_OF_COST[self.cost]}/{self.cost} "
            f"{self.regularizer} {dropout} {self.init} {self.dtype}"
        )

    def spec(self) -> Spec:
        activations = [self.activation] * self.depth + [OUTPUT_ACTIVATION_OF_COST[self.cost]]
        sizes = [HIDDEN_SIZE] * self.depth + [10]
        layers = [
            {
                "type": "dense",
                "size": size,
                "activation": activation,
                "dropout": (INPUT_DROPOUT if index == 0 else HIDDEN_DROPOUT) if self.dropout else 0.0,
            }
            for index, (size, activation) in enumerate(zip(sizes, activations))
        ]
        return Spec.from_dict(
            {
                "name": self.name,
                "network": {"input": 784, "layers": layers, "cost": self.cost, "init": self.init},
                "training": _training(self.regularizer, self.dtype),
                "data": {"train_size": GRADIENT_TRAINING_SIZE},
            },
            "conformance/suite/matrix.py",
        )


def _training(regularizer: str, dtype: str) -> dict:
    return {
        "epochs": 1,
        "batch_size": BATCH_SIZE,
        "eta": 0.5,
        "regularizer": regularizer,
        "lmbda": 0.0 if regularizer == "none" else LMBDA,
        "dtype": dtype,
    }


@dataclass(frozen=True)
class ConvGradientCase:
    """A chapter 6 net: one or two conv-pool layers (5x5 kernels, 2x2 pools), a dense hidden layer, softmax."""

    conv_layers: int
    pooling: str  # "max-first", "max-all" or "l2"
    activation: str
    regularizer: str
    dropout: bool
    init: str
    dtype: str = "float64"

    @property
    def name(self) -> str:
        dropout = "dropout" if self.dropout else "no-dropout"
        return (
            f"grad conv{self.conv_layers} {self.pooling} {self.activation} {self.regularizer} {dropout} "
            f"{self.init} {self.dtype}"
        )

    def spec(self) -> Spec:
        pooling, _, ties = self.pooling.partition("-")
        conv = {"type": "conv", "kernel": 5, "pool": 2, "pooling": pooling, "activation": self.activation}
        if ties:
            conv["ties"] = ties
        dropout = HIDDEN_DROPOUT if self.dropout else 0.0
        layers = [{**conv, "filters": filters} for filters in CONV_FILTERS[: self.conv_layers]] + [
            {"type": "dense", "size": HIDDEN_SIZE, "activation": self.activation, "dropout": dropout},
            {"type": "dense", "size": 10, "activation": "softmax", "dropout": dropout},
        ]
        network = {"input": [1, 28, 28], "layers": layers, "cost": "log_likelihood", "init": self.init}
        return Spec.from_dict(
            {
                "name": self.name,
                "network": network,
                "training": _training(self.regularizer, self.dtype),
                "data": {"train_size": GRADIENT_TRAINING_SIZE},
            },
            "conformance/suite/matrix.py",
        )


def all_gradient_cases(dtype: str = "float64") -> list[GradientCase]:
    """The whole product of GRADIENT_FACTORS (576 cases)."""
    return [GradientCase(*choice, dtype=dtype) for choice in itertools.product(*GRADIENT_FACTORS.values())]


def covering_gradient_cases(dtype: str = "float64") -> list[GradientCase]:
    """A subset of GRADIENT_FACTORS' product in which every pair of choices appears at least once."""
    return [GradientCase(*choice, dtype=dtype) for choice in covering_choices(GRADIENT_FACTORS)]


def all_conv_gradient_cases(dtype: str = "float64") -> list[ConvGradientCase]:
    """The whole product of CONV_GRADIENT_FACTORS (288 cases)."""
    return [ConvGradientCase(*choice, dtype=dtype) for choice in itertools.product(*CONV_GRADIENT_FACTORS.values())]


def covering_conv_gradient_cases(dtype: str = "float64") -> list[ConvGradientCase]:
    """A subset of CONV_GRADIENT_FACTORS' product in which every pair of choices appears at least once."""
    return [ConvGradientCase(*choice, dtype=dtype) for choice in covering_choices(CONV_GRADIENT_FACTORS)]


def covering_choices(factors: dict[str, tuple]) -> list[tuple]:
    """A subset of the factors' product in which every pair of choices of two factors appears at least once.

    Greedy: take, again and again, the case that covers the most pairs not yet covered (the
    first such in product order), until none is left. The result is the same on every run.
    """
    choices = list(itertools.product(*factors.values()))

    def pairs(choice):
        return {(i, choice[i], j, choice[j]) for i, j in itertools.combinations(range(len(choice)), 2)}

    uncovered = set().union(*(pairs(choice) for choice in choices))
    chosen = []
    while uncovered:
        best = max(choices, key=lambda choice: len(pairs(choice) & uncovered))
        chosen.append(best)
        uncovered -= pairs(best)
    return chosen


@dataclass(frozen=True)
class TrajectoryCase:
    """A training run to repeat in every backend: a preset, perhaps changed, in one dtype."""

    preset: str
    changes: tuple[tuple[str, object], ...] = ()  # (("training.regularizer", "l1"), ...): spec keys, new values
    label: str = ""
    dtype: str = "float64"
    layer_speeds: bool = False  # compare ch. 5's speed of learning, ||dC/db^l||, after the first steps too

    @property
    def name(self) -> str:
        return f"train {self.label or self.preset} {self.dtype}"

    def spec(self) -> Spec:
        tree = load_preset(self.preset).to_dict()
        for key, value in self.changes + (("training.dtype", self.dtype),):
            section, name = key.split(".")
            tree[section][name] = value
        tree["name"] = self.label or self.preset
        return Spec.from_dict(tree, f"conformance/suite/matrix.py ({self.name})")


DROPOUT_RELU_SOFTMAX = (
    (
        "network.layers",
        [
            {"type": "dense", "size": 100, "activation": "relu", "dropout": INPUT_DROPOUT},
            {"type": "dense", "size": 10, "activation": "softmax", "dropout": HIDDEN_DROPOUT},
        ],
    ),
    ("network.cost", "log_likelihood"),
    ("network.init", "default"),
    ("training.eta", 0.1),
)
CNN_SUBSET = ("data.train_size", 2000)  # a chapter 6 epoch on 2,000 images: enough to mean something, quick to run


def _chapter_6_layers(pooling: str = "max", dropout: float = 0.0) -> tuple[str, list[dict]]:
    """ch6-conv2-relu's layers with another pooling on its conv layers, or dropout on its dense layers."""
    layers = load_preset("ch6-conv2-relu").to_dict()["network"]["layers"]
    for layer in layers:
        if layer["type"] == "conv" and pooling != layer["pooling"]:
            layer["pooling"] = pooling
            del layer["ties"]  # max pooling's choice
        if layer["type"] == "dense":
            layer["dropout"] = dropout
    return ("network.layers", layers)


@dataclass(frozen=True)
class PerceptronCase:
    """Chapter 1's perceptrons, forward only: a NAND gate and the adder of two bits built of NANDs, on
    every pair of input bits."""

    name: str = "perceptron NAND adder"
    dtype: str = "float64"


PERCEPTRONS = PerceptronCase()
CHAPTER_1 = TrajectoryCase("ch1-sigmoid-30")
CHAPTER_6 = TrajectoryCase("ch6-conv2-relu", (CNN_SUBSET,), label="ch6-conv2-relu 2000 images")
TRAJECTORY_CASES = [
    CHAPTER_1,
    TrajectoryCase("ch3-xent-30"),
    TrajectoryCase("ch3-l2-30"),
    TrajectoryCase("ch3-l2-30", (("training.regularizer", "l1"),), label="ch3-l2-30 with L1"),
    TrajectoryCase("ch3-overfit-1000-l2"),
    TrajectoryCase("ch5-depth-4", layer_speeds=True),
    TrajectoryCase("ch3-xent-30", DROPOUT_RELU_SOFTMAX, label="dropout relu-100 softmax"),
    TrajectoryCase("ch1-sigmoid-30", dtype="float32"),
    TrajectoryCase("ch3-l2-30", dtype="float32"),
    CHAPTER_6,
    TrajectoryCase(
        "ch6-conv2-relu", (CNN_SUBSET, _chapter_6_layers(pooling="l2")), label="ch6-conv2-relu l2-pool 2000 images"
    ),
    TrajectoryCase(  # eta 0.3: at 0.03, with half of each dense input dropped, 200 steps learn next to nothing
        "ch6-conv2-relu",
        (CNN_SUBSET, _chapter_6_layers(dropout=0.5), ("training.eta", 0.3)),
        label="ch6-conv2-relu dropout eta 0.3 2000 images",
    ),
    TrajectoryCase("ch6-conv2-relu", (CNN_SUBSET,), label="ch6-conv2-relu 2000 images", dtype="float32"),
]


@dataclass(frozen=True)
class EnsembleCase:
    """An ensemble of `members` trained as one for an epoch, each member against itself trained alone."""

    trajectory: TrajectoryCase  # the network and training; its data.train_size keeps the epoch short
    members: int = 4  # on a CPU of 2 cores or more, JAX trains them as two groups of two (jax_impl/train.py)

    @property
    def name(self) -> str:
        return f"ensemble of {self.members}: {self.trajectory.label}"

    def spec(self) -> Spec:
        return self.trajectory.spec()


def _small_chapter_6_layers() -> tuple[str, list[dict]]:
    """ch6-conv2-relu's layers with CONV_FILTERS filters, and dropout 0.5 on its dense layers."""
    key, layers = _chapter_6_layers(dropout=0.5)
    for layer, filters in zip([layer for layer in layers if layer["type"] == "conv"], CONV_FILTERS):
        layer["filters"] = filters
    return key, layers


ENSEMBLE_SUBSET = ("data.train_size", 200)
ENSEMBLE_CASES = [
    EnsembleCase(
        TrajectoryCase(
            "ch3-xent-30", (*DROPOUT_RELU_SOFTMAX, ENSEMBLE_SUBSET), label="dropout relu-100 softmax 200 images"
        )
    ),
    EnsembleCase(
        TrajectoryCase(
            "ch6-conv2-relu",
            (ENSEMBLE_SUBSET, _small_chapter_6_layers(), ("training.eta", 0.3)),
            label=f"ch6-conv2-relu {CONV_FILTERS[0]} and {CONV_FILTERS[1]} filters, dropout, 200 images",
        )
    ),
]
