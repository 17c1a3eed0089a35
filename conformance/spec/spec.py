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

from conformance.spec.errors import SpecError
from conformance.spec.parts import BookResult, Data, Layer, Network, Training
from conformance.spec.reading import SpecReader


@dataclass(frozen=True)
class Spec:
    name: str
    network: Network
    training: Training
    data: Data = field(default_factory=Data)
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
        return cls(**SpecReader(source).fields(tree))

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
