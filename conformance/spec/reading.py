"""Reading a spec from its parsed TOML (or JSON, or dict) tree: every key checked, every error
naming the file and the key."""

from __future__ import annotations

import math
from typing import Any

from conformance.spec.errors import SpecError
from conformance.spec.parts import (
    BEST_EPOCH_TIES,
    DTYPES,
    HIDDEN_ACTIVATIONS,
    INITS,
    LAYER_TYPES,
    METRICS,
    OUTPUT_ACTIVATION_OF_COST,
    POOLINGS,
    REGULARIZERS,
    TIES,
    BookResult,
    Conv,
    Data,
    Dense,
    Layer,
    Network,
    Shape,
    Training,
)

_REQUIRED = object()  # the default of a key that must be present


class SpecReader:
    """Builds a Spec from a parsed tree, naming the file and the key in every error."""

    def __init__(self, source: str):
        self.source = source

    def error(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.source}: {key}: {problem}")

    def fields(self, tree: dict[str, Any]) -> dict[str, Any]:
        """The keyword arguments of a Spec: its name, description, network, training, data and book."""
        self.table(tree, "the spec", {"name", "description", "network", "training", "data", "book"})
        for required in ("network", "training"):
            if required not in tree:
                raise self.error(required, "missing section")
        book = tree.get("book")
        return {
            "name": self.string(tree, "name", "name", default="unnamed"),
            "description": self.string(tree, "description", "description", default=""),
            "network": self.network(tree["network"]),
            "training": self.training(tree["training"]),
            "data": self.data(tree.get("data", {})),
            "book": None if book is None else self.book(book),
        }

    def network(self, tree: Any) -> Network:
        self.table(tree, "network", {"input", "layers", "cost", "init"})
        cost = self.choice(tree, "cost", "network.cost", tuple(OUTPUT_ACTIVATION_OF_COST))
        layers_tree = tree.get("layers")
        if not isinstance(layers_tree, list) or not layers_tree:
            raise self.error("network.layers", "expected a non-empty list of layer tables")
        layers = tuple(
            self.layer(layer, f"network.layers[{i}]", is_output=i == len(layers_tree) - 1)
            for i, layer in enumerate(layers_tree)
        )
        if layers[-1].type != "dense":
            raise self.error(f"network.layers[{len(layers) - 1}].type", "the output layer must be dense")
        output = layers[-1].activation
        if output != OUTPUT_ACTIVATION_OF_COST[cost]:
            raise self.error(
                f"network.layers[{len(layers) - 1}].activation",
                f"the {cost} cost needs a {OUTPUT_ACTIVATION_OF_COST[cost]} output layer, not {output}",
            )
        network = Network(
            input=self.shape(tree, "input", "network.input"),
            layers=layers,
            cost=cost,
            init=self.choice(tree, "init", "network.init", INITS, default="default"),
        )
        self.check_chain(network)
        return network

    def check_chain(self, network: Network) -> None:
        """Every layer takes the shape the one before it gives (a conv layer needs rows and columns)."""
        shape = network.input_shape
        for i, layer in enumerate(network.layers):
            problem = layer.input_problem(shape)
            if problem:
                raise self.error(f"network.layers[{i}]", f"{problem} (network.input is {network.input})")
            shape = layer.output_shape(shape)

    def layer(self, tree: Any, key: str, is_output: bool) -> Layer:
        """A layer table, read by the reader method named after its type (`dense`, ...)."""
        if not isinstance(tree, dict):
            raise self.error(key, f"expected a table, got {_describe(tree)}")
        kind = self.choice(tree, "type", f"{key}.type", tuple(LAYER_TYPES), default="dense")
        return getattr(self, kind)(tree, key, is_output)

    def conv(self, tree: dict, key: str, is_output: bool) -> Conv:
        self.table(tree, key, {"type", "filters", "kernel", "pool", "pooling", "ties", "activation"})
        pooling = self.choice(tree, "pooling", f"{key}.pooling", POOLINGS, default="max")
        if pooling != "max" and "ties" in tree:
            raise self.error(f"{key}.ties", "is max pooling's choice; an L2 pool has no ties to break")
        return Conv(
            filters=self.integer(tree, "filters", f"{key}.filters", minimum=1),
            kernel=self.integer(tree, "kernel", f"{key}.kernel", default=5, minimum=1),
            pool=self.integer(tree, "pool", f"{key}.pool", default=2, minimum=1),
            pooling=pooling,
            ties=self.choice(tree, "ties", f"{key}.ties", TIES, default="first"),
            activation=self.choice(tree, "activation", f"{key}.activation", HIDDEN_ACTIVATIONS),
        )

    def dense(self, tree: dict, key: str, is_output: bool) -> Dense:
        self.table(tree, key, {"type", "size", "activation", "dropout"})
        allowed = tuple(OUTPUT_ACTIVATION_OF_COST.values()) if is_output else HIDDEN_ACTIVATIONS
        allowed = tuple(dict.fromkeys(allowed))
        return Dense(
            size=self.integer(tree, "size", f"{key}.size", minimum=1),
            activation=self.choice(tree, "activation", f"{key}.activation", allowed),
            dropout=self.number(tree, "dropout", f"{key}.dropout", default=0.0, minimum=0.0, below=1.0),
        )

    def training(self, tree: Any) -> Training:
        self.table(tree, "training", set(Training.__dataclass_fields__))
        regularizer = self.choice(tree, "regularizer", "training.regularizer", REGULARIZERS, default="none")
        lmbda = self.number(tree, "lmbda", "training.lmbda", default=0.0, minimum=0.0)
        if regularizer == "none" and lmbda != 0:
            raise self.error("training.lmbda", f"is {lmbda:g}, but training.regularizer is 'none'")
        eta = self.number(tree, "eta", "training.eta", minimum=0.0)
        if eta == 0:
            raise self.error("training.eta", "must be positive")
        return Training(
            epochs=self.integer(tree, "epochs", "training.epochs", minimum=1),
            batch_size=self.integer(tree, "batch_size", "training.batch_size", minimum=1),
            eta=eta,
            regularizer=regularizer,
            lmbda=lmbda,
            shuffle=self.boolean(tree, "shuffle", "training.shuffle", default=True),
            early_stopping_patience=self.integer(
                tree, "early_stopping_patience", "training.early_stopping_patience", default=0, minimum=0
            ),
            halve_eta_patience=self.integer(
                tree, "halve_eta_patience", "training.halve_eta_patience", default=0, minimum=0
            ),
            dtype=self.choice(tree, "dtype", "training.dtype", DTYPES, default="float64"),
            drop_last=self.boolean(tree, "drop_last", "training.drop_last", default=False),
            best_epoch_ties=self.choice(
                tree, "best_epoch_ties", "training.best_epoch_ties", BEST_EPOCH_TIES, default="first"
            ),
            evaluate_training_set=self.boolean(
                tree, "evaluate_training_set", "training.evaluate_training_set", default=True
            ),
        )

    def data(self, tree: Any) -> Data:
        self.table(tree, "data", {"train_size", "expanded"})
        train_size = None
        if tree.get("train_size") is not None:
            train_size = self.integer(tree, "train_size", "data.train_size", minimum=1)
        return Data(train_size=train_size, expanded=self.boolean(tree, "expanded", "data.expanded", default=False))

    def book(self, tree: Any) -> BookResult:
        self.table(tree, "book", {"accuracy", "metric", "note"})
        return BookResult(
            accuracy=self.number(tree, "accuracy", "book.accuracy", minimum=0.0),
            metric=self.choice(tree, "metric", "book.metric", METRICS),
            note=self.string(tree, "note", "book.note", default=""),
        )

    # -- one checker per kind of value ------------------------------------------------------

    def table(self, tree: Any, key: str, allowed: set[str]) -> None:
        if not isinstance(tree, dict):
            raise self.error(key, f"expected a table, got {_describe(tree)}")
        unknown = sorted(set(tree) - allowed)
        if unknown:
            raise self.error(
                f"{key}.{unknown[0]}" if key != "the spec" else unknown[0],
                f"unknown key (expected one of: {', '.join(sorted(allowed))})",
            )

    def present(self, tree: dict, name: str, key: str, default: Any) -> Any:
        if name in tree:
            return tree[name]
        if default is _REQUIRED:
            raise self.error(key, "missing")
        return default

    def integer(self, tree: dict, name: str, key: str, default: Any = _REQUIRED, minimum: int | None = None) -> int:
        value = self.present(tree, name, key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {_describe(value)}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        return value

    def shape(self, tree: dict, name: str, key: str) -> int | Shape:
        """A number of features (784), or the shape of one example as a list ([1, 28, 28])."""
        value = self.present(tree, name, key, _REQUIRED)
        if isinstance(value, list):
            if not value or len(value) > 3:
                raise self.error(key, f"expected a shape of 1 to 3 whole numbers, got {_describe(value)}")
            return tuple(self.integer({name: v}, name, key, minimum=1) for v in value)
        return self.integer(tree, name, key, minimum=1)

    def number(
        self,
        tree: dict,
        name: str,
        key: str,
        default: Any = _REQUIRED,
        minimum: float | None = None,
        below: float | None = None,
    ) -> float:
        value = self.present(tree, name, key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_describe(value)}")
        if not math.isfinite(value):
            raise self.error(key, f"must be finite, got {value}")
        if minimum is not None and value < minimum:
            raise self.error(
                key, f"must not be negative, got {value}" if minimum == 0 else f"must be at least {minimum}"
            )
        if below is not None and value >= below:
            raise self.error(key, f"must be below {below}, got {value}")
        return float(value)

    def boolean(self, tree: dict, name: str, key: str, default: bool) -> bool:
        value = self.present(tree, name, key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_describe(value)}")
        return value

    def string(self, tree: dict, name: str, key: str, default: Any = _REQUIRED) -> str:
        value = self.present(tree, name, key, default)
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_describe(value)}")
        return value

    def choice(self, tree: dict, name: str, key: str, allowed: tuple[str, ...], default: Any = _REQUIRED) -> str:
        value = self.string(tree, name, key, default)
        if value not in allowed:
            raise self.error(key, f"unknown value {value!r} (expected one of: {', '.join(allowed)})")
        return value


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"
