"""The shared spec: one backend-free description of a network and of its training.

Every backend reads a `Spec`; none of them adds a choice of its own. Where the spec departs
from the book's programs it says so here, and a preset reproduces the book:

- Layers are a list of layer types from a registry (`LAYER_TYPES`), so that the chapter 6
  convolution and pooling layers drop in beside `Dense`. Each type states the shapes of its
  parameters, of its output and of its dropout mask, given the shape of its input; the input
  of the network may be a shape ([1, 28, 28]) or a number of features (784). Parameters use one
  canonical layout: a dense layer's W has shape (n_out, n_in), its b (n_out,), and a dense layer
  reads an input of any shape flattened in row-major order.
- The cross-entropy cost is computed from the weighted input z in its softplus form,
  C = sum_j softplus(z_j) - y_j z_j, which equals the book's
  -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] exactly and never produces NaN, so the book's
  `nan_to_num` is not needed.
- Regularisation follows network2: L2 shrinks W by (1 - eta lambda / n), L1 steps by
  eta lambda / n sign(W), with n the size of the whole training set; biases are not
  regularised.
- Dropout follows network3, not torch.nn.Dropout: during training a layer's *input* is
  multiplied by a Bernoulli mask that keeps each unit with probability 1 - p, with no
  rescaling; at inference the layer's W x is multiplied by (1 - p) instead.
- The chapter 6 convolutional layer (`conv`) follows network3's ConvPoolLayer, in its order:
  a valid cross-correlation with W (filters, channels, kh, kw), pooling over non-overlapping
  pool x pool windows (a ragged border dropped), + b (one bias per filter), the activation.
  network3's Theano conv2d flips the kernel (a true convolution); every framework here computes
  cross-correlation, and a flipped kernel learns the same network. A dense layer after a conv
  layer reads its (channel, row, column) output flattened in that order. L2 pooling is the
  square root of the sum of squares in a window, and its gradient at an all-zero window (common
  on MNIST's blank margins) is defined as 0 where the square root's derivative is infinite. Max
  pooling's gradient at a tie is a choice, `ties`: "first" (the frameworks': all of it to the
  first maximum in row-major order) or "all" (network3's Theano pool_2d: the full gradient to
  every tied maximum). Conv layers have no dropout.
- Init `network3`: conv W ~ N(0, 1/n_out) with n_out = filters kh kw / pool^2, dense W ~ N(0,
  1/n_out) with n_out the layer's size (network3 scales by n_out where n_in was meant; kept),
  every b ~ N(0, 1), and a softmax output layer's W and b start at 0. network3's L2 term,
  0.5 lambda_3 ||W||^2 / (number of mini-batches), is network2's with lambda = lambda_3 m: the
  chapter 6 presets carry the converted value. network3 does not shuffle and drops a remainder
  that does not fill a mini-batch (`drop_last`), and reports the test accuracy at the *later* of
  two epochs that tie on validation accuracy (`best_epoch_ties = "last"`). It evaluates the
  validation and test sets after each epoch, not the training set (`evaluate_training_set =
  false`: on the 250,000 expanded images that takes longer than the epoch's training in JAX).
- Early stopping and the learning-rate schedule (exercises in the book's chapter 3) watch the
  validation accuracy. The schedule halves eta after `halve_eta_patience` epochs without a
  new best and stops once eta has fallen to eta_0 / 128.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import SpecError

HIDDEN_ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
OUTPUT_ACTIVATION_OF_COST = {
    "quadratic": "sigmoid",
    "cross_entropy": "sigmoid",
    "log_likelihood": "softmax",
}
INITS = ("large", "default", "network3")
POOLINGS = ("max", "l2")
TIES = ("first", "all")
REGULARIZERS = ("none", "l2", "l1")
DTYPES = ("float64", "float32")
METRICS = ("test_accuracy", "validation_accuracy", "test_accuracy_at_best_validation")
BEST_EPOCH_TIES = ("first", "last")
ETA_FLOOR_DIVISOR = 128  # the schedule stops once eta has fallen to eta_0 / 128


Shape = tuple[int, ...]


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: a = activation(W x + b), x its input flattened in row-major order."""

    type: str = field(default="dense", init=False)
    size: int
    activation: str
    dropout: float = 0.0  # probability of dropping each unit of this layer's input

    def output_shape(self, input_shape: Shape) -> Shape:
        return (self.size,)

    def parameter_shapes(self, input_shape: Shape) -> tuple[Shape, Shape]:
        """(W shape, b shape): W is (n_out, n_in), n_in the number of the input's entries."""
        return (self.size, math.prod(input_shape)), (self.size,)

    def fan_in(self, input_shape: Shape) -> int:
        """How many inputs each unit weighs: the n_in of the default init's N(0, 1/n_in)."""
        return math.prod(input_shape)

    def fan_out(self, input_shape: Shape) -> int:
        """network3's n_out, the n of its initial W ~ N(0, 1/n): the layer's size."""
        return self.size

    def mask_shape(self, input_shape: Shape) -> Shape | None:
        """One example's dropout keep-mask, on the flattened input; None without dropout."""
        return (math.prod(input_shape),) if self.dropout else None

    def input_problem(self, input_shape: Shape) -> str | None:
        """Why this layer cannot take an input of this shape, or None: a dense layer takes any."""
        return None

    def workspace(self, input_shape: Shape) -> int:
        """About how many numbers per example its forward pass holds at once (to size evaluation chunks)."""
        return math.prod(input_shape) + self.size


@dataclass(frozen=True)
class Conv:
    """A convolutional-pooling layer (network3's ConvPoolLayer): a valid cross-correlation with
    W, pooling over non-overlapping pool x pool windows (a ragged border dropped), + b, then the
    activation. Its input is (channels, rows, columns); its output (filters, rows', columns')."""

    type: str = field(default="conv", init=False)
    filters: int
    activation: str
    kernel: int = 5
    pool: int = 2
    pooling: str = "max"  # max | l2
    ties: str = "first"  # max pooling's gradient at a tie: first | all (network3's)
    dropout = 0.0  # not a field: network3 drops out no conv layer's input

    def correlation_shape(self, input_shape: Shape) -> Shape:
        """The shape of the cross-correlation, before pooling: (filters, H - kh + 1, W - kw + 1)."""
        _, rows, columns = input_shape
        return (self.filters, rows - self.kernel + 1, columns - self.kernel + 1)

    def output_shape(self, input_shape: Shape) -> Shape:
        _, rows, columns = self.correlation_shape(input_shape)
        return (self.filters, rows // self.pool, columns // self.pool)

    def parameter_shapes(self, input_shape: Shape) -> tuple[Shape, Shape]:
        """(W shape, b shape): W is (filters, channels, kh, kw), b one bias per filter."""
        return (self.filters, input_shape[0], self.kernel, self.kernel), (self.filters,)

    def fan_in(self, input_shape: Shape) -> int:
        """How many inputs each unit weighs: channels x kh x kw."""
        return input_shape[0] * self.kernel * self.kernel

    def fan_out(self, input_shape: Shape) -> int:
        """network3's n_out: filters x kh x kw / pool^2."""
        return self.filters * self.kernel * self.kernel // (self.pool * self.pool)

    def mask_shape(self, input_shape: Shape) -> Shape | None:
        return None

    def input_problem(self, input_shape: Shape) -> str | None:
        if len(input_shape) != 3:
            return f"a conv layer takes (channels, rows, columns), not an input of shape {list(input_shape)}"
        if min(input_shape[1:]) < self.kernel:
            return f"its {self.kernel}x{self.kernel} kernel does not fit its {list(input_shape)} input"
        if min(self.correlation_shape(input_shape)[1:]) < self.pool:
            return f"its {self.pool}x{self.pool} pool does not fit the {list(self.correlation_shape(input_shape))} correlation"
        return None

    def workspace(self, input_shape: Shape) -> int:
        """The input's windows, one row per output position (im2col), and the correlation."""
        _, rows, columns = self.correlation_shape(input_shape)
        return (self.fan_in(input_shape) + self.filters) * rows * columns


LAYER_TYPES = {"dense": Dense, "conv": Conv}
Layer = Dense | Conv  # any of LAYER_TYPES' classes


@dataclass(frozen=True)
class Network:
    input: int | Shape  # a number of features, or the shape of one example ([1, 28, 28])
    layers: tuple[Layer, ...]
    cost: str
    init: str

    @property
    def input_shape(self) -> Shape:
        return (self.input,) if isinstance(self.input, int) else tuple(self.input)

    @property
    def layer_input_shapes(self) -> tuple[Shape, ...]:
        """The shape of one example's input to each layer, the network's input first."""
        shapes = [self.input_shape]
        for layer in self.layers[:-1]:
            shapes.append(layer.output_shape(shapes[-1]))
        return tuple(shapes)

    @property
    def sizes(self) -> tuple[int, ...]:
        """The book's `sizes` list, [784, 30, 10] for the chapter 1 net: the number of entries of
        the input and of each layer's output."""
        shapes = [*self.layer_input_shapes, self.layers[-1].output_shape(self.layer_input_shapes[-1])]
        return tuple(math.prod(shape) for shape in shapes)

    @property
    def layout(self) -> str:
        """The book's sizes list, [784, 30, 10], with a conv layer's output as channels x rows x
        columns: [1x28x28, 20x12x12, 40x4x4, 100, 10]."""
        shapes = [*self.layer_input_shapes, self.layers[-1].output_shape(self.layer_input_shapes[-1])]
        return "[" + ", ".join("x".join(map(str, shape)) for shape in shapes) + "]"

    @property
    def parameter_shapes(self) -> tuple[tuple[Shape, Shape], ...]:
        """The canonical layout: ((W shape, b shape), ...) layer by layer."""
        return tuple(layer.parameter_shapes(shape) for layer, shape in zip(self.layers, self.layer_input_shapes))

    @property
    def init_fans(self) -> tuple[int | None, ...]:
        """Per layer, the n of the initial W ~ N(0, 1/n): None for N(0, 1) (`large`), n_in for
        `default`, network3's n_out for `network3`."""
        if self.init == "large":
            return (None,) * len(self.layers)
        fan = "fan_out" if self.init == "network3" else "fan_in"
        return tuple(getattr(layer, fan)(shape) for layer, shape in zip(self.layers, self.layer_input_shapes))

    @property
    def starts_at_zero(self) -> tuple[bool, ...]:
        """Per layer, whether its W and b start at 0: network3's softmax output layer."""
        return tuple(
            self.init == "network3" and layer is self.layers[-1] and layer.activation == "softmax"
            for layer in self.layers
        )

    @property
    def workspace(self) -> int:
        """About how many numbers per example the largest layer's forward pass holds at once."""
        return max(layer.workspace(shape) for layer, shape in zip(self.layers, self.layer_input_shapes))

    @property
    def mask_shapes(self) -> tuple[Shape | None, ...]:
        """One example's dropout keep-mask for each layer's input (None where the layer has no dropout)."""
        return tuple(layer.mask_shape(shape) for layer, shape in zip(self.layers, self.layer_input_shapes))

    @property
    def has_dropout(self) -> bool:
        return any(layer.dropout > 0 for layer in self.layers)

    @property
    def has_conv(self) -> bool:
        return any(layer.type == "conv" for layer in self.layers)


@dataclass(frozen=True)
class Training:
    epochs: int
    batch_size: int
    eta: float
    regularizer: str = "none"
    lmbda: float = 0.0
    shuffle: bool = True
    early_stopping_patience: int = 0  # stop after this many epochs without a new best; 0 = off
    halve_eta_patience: int = 0  # halve eta after this many epochs without a new best; 0 = off
    dtype: str = "float64"
    drop_last: bool = False  # leave out a last mini-batch that would be short (network3)
    best_epoch_ties: str = "first"  # the best validation epoch, on a tie: first | last (network3's)
    evaluate_training_set: bool = True  # its accuracy and cost after every epoch (network3 skips them)

    def examples_per_epoch(self, n: int) -> int:
        """How many of the n training examples an epoch visits: all, or with drop_last the whole mini-batches'."""
        return n - n % self.batch_size if self.drop_last else n


@dataclass(frozen=True)
class Data:
    train_size: int | None = None  # the first N training images; None = all of them
    expanded: bool = False  # the book's 250,000 one-pixel-shifted training images


@dataclass(frozen=True)
class BookResult:
    """The figure the book reports for this experiment, in percent."""

    accuracy: float
    metric: str
    note: str = ""


@dataclass(frozen=True)
class Spec:
    name: str
    network: Network
    training: Training
    data: Data = Data()
    description: str = ""
    book: BookResult | None = None

    def to_dict(self) -> dict[str, Any]:
        """A plain dict that `Spec.from_dict` reads back (TOML and JSON both hold it)."""
        tree = asdict(self)
        tree["network"]["input"] = (
            self.network.input if isinstance(self.network.input, int) else list(self.network.input)
        )
        tree["network"]["layers"] = [_layer_tree(layer) for layer in self.network.layers]
        if self.data.train_size is None:
            del tree["data"]["train_size"]
        if self.book is None:
            del tree["book"]
        return tree

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, tree: dict[str, Any], source: str = "<spec>") -> Spec:
        return _SpecReader(source).spec(tree)

    def with_changes(self, section: str, source: str = "the command line", **changes: Any) -> Spec:
        """A copy with some keys of one section changed, validated like a spec file."""
        tree = self.to_dict()
        tree[section].update(changes)
        return Spec.from_dict(tree, source)

    def check_fits(self, n_features: int, n_classes: int, data_name: str) -> None:
        """Raise SpecError unless the network's input and output fit the data set."""
        if math.prod(self.network.input_shape) != n_features:
            raise SpecError(f"network.input is {self.network.input}, but {data_name} has {n_features} features")
        if self.network.layers[-1].size != n_classes:
            raise SpecError(
                f"network.layers[{len(self.network.layers) - 1}].size is {self.network.layers[-1].size}, "
                f"but {data_name} has {n_classes} classes"
            )


def _layer_tree(layer: Layer) -> dict[str, Any]:
    """A layer as the table a spec file holds (an L2 pool's `ties`, which means nothing, left out)."""
    tree = asdict(layer)
    if tree.get("pooling", "max") != "max":
        del tree["ties"]
    return tree


def load_spec(path: str | Path) -> Spec:
    """Read and validate a TOML spec file; every error names the file and the key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecError(f"cannot read spec file {path}: {error.strerror}") from None
    try:
        tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SpecError(f"spec file {path} is not valid TOML: {error}") from None
    tree.setdefault("name", path.stem)
    return Spec.from_dict(tree, str(path))


def spec_to_toml(spec: Spec) -> str:
    """The spec as a TOML file that `load_spec` reads back (a starting point for your own)."""
    tree = spec.to_dict()
    lines = [f"name = {_toml_value(tree['name'])}", f"description = {_toml_value(tree['description'])}"]
    for section in ("network", "training", "data", "book"):
        if section not in tree:
            continue
        lines.append(f"\n[{section}]")
        for key, value in tree[section].items():
            if key == "layers":
                lines.append("layers = [")
                lines += [f"  {_toml_value(layer)}," for layer in value]
                lines.append("]")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    return repr(value)


def _toml_string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that JSON writes characters beyond
    U+FFFF as surrogate pairs, which TOML rejects, so those stay as they are; DEL, which JSON
    leaves alone and TOML forbids, is escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


_REQUIRED = object()  # the default of a key that must be present


class _SpecReader:
    """Builds a Spec from a parsed tree, naming the file and the key in every error."""

    def __init__(self, source: str):
        self.source = source

    def error(self, key: str, problem: str) -> SpecError:
        return SpecError(f"{self.source}: {key}: {problem}")

    def spec(self, tree: dict[str, Any]) -> Spec:
        self.table(tree, "the spec", {"name", "description", "network", "training", "data", "book"})
        for required in ("network", "training"):
            if required not in tree:
                raise self.error(required, "missing section")
        book = tree.get("book")
        return Spec(
            name=self.string(tree, "name", "name", default="unnamed"),
            description=self.string(tree, "description", "description", default=""),
            network=self.network(tree["network"]),
            training=self.training(tree["training"]),
            data=self.data(tree.get("data", {})),
            book=None if book is None else self.book(book),
        )

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
