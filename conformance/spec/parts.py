"""The parts of a spec: its layers, its network, its training, its data and the book's result,
with the choices each key allows (conformance/spec/spec.py says where they depart from the book)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

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
