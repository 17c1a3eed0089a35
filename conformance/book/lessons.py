"""The lessons of `nndl lesson`: each concept of the book, its equation, and where the three backends define it.

A concept names its code by module and definition, ("costs", "CrossEntropyCost.fn"): a top-level
name, or a method as Class.method, or "*" for a whole module. `nndl lesson` reads the source of
every backend (conformance.book.source, through `ast`), so what it shows is the code itself and
cannot drift from it; tests/test_lesson.py fails when a public name of a backend module belongs to
no concept. A concept may also show private helpers that carry a difference (`Helpers`), and
declare lines that share a row although their text does not say so (`Anchor`). What a lesson teaches
in words (`look_for`, `rules`) and its helpers and anchors, which name the frameworks, are read from
lessons.toml beside this file: the Python of conformance/ names no framework (tests/test_layout.py).

The equation is the book's, written twice by hand: as plain text for the terminal and as MathML,
which browsers render with no script, for the HTML site; equation numbers are the book's, checked
against it, and a rule that is nndl's and not the book's is in `rules`. `look_for` is the lesson's
teaching text. The evidence is the check that `nndl lesson` runs live (conformance.book.evidence)
to show that the backends agree on the lesson's own point.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path

from conformance.suite.matrix import DROPOUT_RELU_SOFTMAX, ConvGradientCase, GradientCase, TrajectoryCase

# -- MathML, written compactly --------------------------------------------------------------------

SYMBOLS = {
    "sigma": ("mi", "σ"),
    "delta": ("mi", "δ"),
    "eta": ("mi", "η"),
    "lambda": ("mi", "λ"),
    "partial": ("mi", "∂"),
    "nabla": ("mo", "∇"),
    "odot": ("mo", "⊙"),
    "sum": ("mo", "∑"),
    "cdot": ("mo", "⋅"),
    "star": ("mo", "⋆"),
    "to": ("mo", "→"),
    "<=": ("mo", "≤"),
    ">=": ("mo", "≥"),
    "-": ("mo", "−"),
    "in": ("mo", "∈"),
}
LARGE_OPERATORS = {"sum"}  # drawn display-sized, with their limits below


def _token(token: str) -> str:
    """One MathML token: a number, a name, a word of text ('if), or an operator."""
    if token in SYMBOLS:
        tag, text = SYMBOLS[token]
    elif token.startswith("'"):
        tag, text = "mtext", f"\u2002{token[1:].replace('_', ' ')}\u2002"
    elif token[0].isdigit():
        tag, text = "mn", token
    elif token[0].isalpha():
        tag, text = "mi", token
    else:
        tag, text = "mo", token
    return f"<{tag}>{escape(text)}</{tag}>"


def _part(item: str) -> str:
    """Markup as it is, or space-separated tokens made MathML."""
    return item if item.startswith("<") else "".join(_token(token) for token in item.split())


def row(*items: str) -> str:
    return "<mrow>" + "".join(_part(item) for item in items) + "</mrow>"


def frac(numerator: str, denominator: str) -> str:
    return f"<mfrac>{row(numerator)}{row(denominator)}</mfrac>"


def sub(base: str, index: str) -> str:
    return f"<msub>{row(base)}{row(index)}</msub>"


def sup(base: str, power: str) -> str:
    return f"<msup>{row(base)}{row(power)}</msup>"


def subsup(base: str, index: str, power: str) -> str:
    return f"<msubsup>{row(base)}{row(index)}{row(power)}</msubsup>"


def under(operator: str, below: str) -> str:
    """An operator with a limit below it; a sum is a large operator (MathML's largeop), its own base."""
    if operator in LARGE_OPERATORS:
        base = f'<mo largeop="true" movablelimits="false" class="large">{SYMBOLS[operator][1]}</mo>'
    else:
        base = row(operator)
    return f"<munder>{base}{row(below)}</munder>"


def sqrt(*items: str) -> str:
    return f"<msqrt>{row(*items)}</msqrt>"


def math(*items: str) -> str:
    """One displayed equation."""
    return f'<math display="block">{row(*items)}</math>'


# -- what a lesson runs to show that the backends agree -----------------------------------------


@dataclass(frozen=True)
class Gradients:
    """The gradient of a net's mean cost on MNIST's first mini-batch, in every backend and by finite
    differences: of every array, or of the biases or the weights alone."""

    case: GradientCase | ConvGradientCase
    arrays: str = "all"  # "all", "biases" or "weights"


@dataclass(frozen=True)
class FirstSteps:
    """The parameters after each of a net's first SGD steps on MNIST, in every backend."""

    case: TrajectoryCase
    steps: int = 3


@dataclass(frozen=True)
class PerceptronOutputs:
    """The NAND gate's and the adder's outputs on every pair of bits, against the reference and the truth table."""


@dataclass(frozen=True)
class Contract:
    """Every backend checked against the backend contract."""


@dataclass(frozen=True)
class TiedWindow:
    """Where each backend sends the gradient of a max-pool window with a real tie, under each tie rule."""


@dataclass(frozen=True)
class SameMasks:
    """One example through a dropout net in every backend: the units the NumPy-drawn mask drops get no gradient."""

    case: GradientCase


SMALL_TRAINING = ("data.train_size", 1000)  # enough rows for a few steps, quick to hand to every backend


def _gradients(activation, cost, regularizer="none", dropout=False, init="default", depth=1, arrays="all"):
    return Gradients(GradientCase(activation, cost, regularizer, dropout, init, depth), arrays)


def _conv_gradients(pooling: str, activation: str = "relu") -> Gradients:
    return Gradients(ConvGradientCase(1, pooling, activation, "none", False, "default"))


def _first_steps(preset: str, *changes, label: str) -> FirstSteps:
    return FirstSteps(TrajectoryCase(preset, (SMALL_TRAINING, *changes), label=label))


# -- the concepts ---------------------------------------------------------------------------------

BOOK = "http://neuralnetworksanddeeplearning.com"


@dataclass(frozen=True)
class Helpers:
    """Private definitions that carry a difference the public names hide, named per backend.

    `absent` is shown for a backend that needs none (what it does instead); `roles` sets a helper's
    lines beside the lines of the same role in the others ("_max_pool_all_ties_backward" as "backward").
    """

    title: str
    module: str
    names: tuple[tuple[str, tuple[str, ...]], ...]  # (backend, its helpers' names)
    absent: str
    roles: tuple[tuple[str, str], ...] = ()  # (a helper's name, the section it is lined up as)


@dataclass(frozen=True)
class Anchor:
    """Lines that share a row though their text does not say so: in the part titled `part`, the first
    line of each backend's code that contains that backend's text."""

    part: str  # "network.backprop"
    lines: tuple[tuple[str, str], ...]  # (backend, text its line contains)


@dataclass(frozen=True)
class Concept:
    name: str  # what `nndl lesson NAME` is called with (any case)
    title: str
    chapter: int | None  # the book's chapter; None for a concept that is nndl's own
    section: str  # the anchor of the book's section on its chapter's page ("" for none)
    equation: str  # the book's equation or rule, plain text, one line per <math> below
    mathml: tuple[str, ...]  # the same, one <math> element per line
    code: tuple[tuple[str, str], ...]  # (module, definition) in every backend
    evidence: Gradients | FirstSteps | PerceptronOutputs | Contract | TiedWindow | SameMasks | None
    aliases: tuple[str, ...] = ()
    # what the lesson teaches, read from lessons.toml by `taught`:
    look_for: str = ""  # what to look for in the code, and what the difference teaches
    rules: str = ""  # nndl's own rules, not the book's
    helpers: tuple[Helpers, ...] = ()
    anchors: tuple[Anchor, ...] = ()

    @property
    def book_link(self) -> str:
        """The book's section, on the book's site; "" for a concept that is nndl's own."""
        if self.chapter is None:
            return ""
        return f"{BOOK}/chap{self.chapter}.html" + (f"#{self.section}" if self.section else "")


SIGMOID_Z = frac("1", row("1 + ", sup("e", "- z")))
FOUR_EQUATIONS = "the_four_fundamental_equations_behind_backpropagation"
CONV = "introducing_convolutional_networks"
_CONCEPTS = (
    # -- chapter 1 --
    Concept(
        "perceptron",
        "Perceptrons, the NAND gate, and an adder built of NANDs",
        1,
        "perceptrons",
        "output = 0 if w . x + b <= 0, 1 if w . x + b > 0\n"
        "NAND: w = (-2, -2), b = 3: 00, 01, 10 give 1; 11 gives 0\n"
        "adder: sum = x1 XOR x2, carry = x1 AND x2, from five NAND perceptrons",
        (
            math("output = 0 'if w cdot x + b <= 0 , 1 'if w cdot x + b > 0"),
            math("NAND ( ", sub("x", "1"), ",", sub("x", "2"), ") : w = ( - 2 , - 2 ) , b = 3"),
            math("sum = ", sub("x", "1"), "⊕", sub("x", "2"), ", carry = ", sub("x", "1"), sub("x", "2")),
        ),
        (
            ("perceptron", "NAND_WEIGHTS"),
            ("perceptron", "NAND_BIAS"),
            ("perceptron", "perceptron"),
            ("perceptron", "nand"),
            ("perceptron", "add_bits"),
        ),
        PerceptronOutputs(),
    ),
    Concept(
        "sigmoid",
        "The sigmoid neuron and its derivative",
        1,
        "sigmoid_neurons",
        "sigma(z) = 1 / (1 + e^-z)   (eq. 3)\nsigma'(z) = sigma(z) (1 - sigma(z))",
        (math("sigma ( z ) = ", SIGMOID_Z), math("sigma ′ ( z ) = sigma ( z ) ( 1 - sigma ( z ) )")),
        (("activations", "Sigmoid.fn"), ("activations", "Sigmoid.prime")),
        _gradients("sigmoid", "quadratic"),
    ),
    Concept(
        "quadratic",
        "The quadratic cost and its output error",
        1,
        "learning_with_gradient_descent",
        "C = 1/(2n) sum_x ||y(x) - a||^2\ndelta^L = (a - y) * sigma'(z^L)   (BP1 for this cost)",
        (
            math("C = ", frac("1", "2 n"), under("sum", "x"), sup("‖ y ( x ) - a ‖", "2")),
            math(sup("delta", "L"), " = ( a - y ) odot sigma ′ (", sup("z", "L"), ")"),
        ),
        (("costs", "QuadraticCost.fn"), ("costs", "QuadraticCost.delta")),
        _gradients("sigmoid", "quadratic"),
    ),
    Concept(
        "sgd",
        "The SGD update of a mini-batch",
        1,
        "learning_with_gradient_descent",
        "w -> w - (eta/m) sum_x dC_x/dw\nb -> b - (eta/m) sum_x dC_x/db",
        (
            math("w to w - ", frac("eta", "m"), under("sum", "x"), frac(sub("partial C", "x"), "partial w")),
            math("b to b - ", frac("eta", "m"), under("sum", "x"), frac(sub("partial C", "x"), "partial b")),
        ),
        (("train", "sgd_step"),),
        _first_steps("ch1-sigmoid-30", label="ch1-sigmoid-30 1000 images"),
    ),
    Concept(
        "epoch",
        "The epoch: a Python loop of mini-batches, or one compiled lax.scan",
        1,
        "implementing_our_network_to_classify_digits",
        "for each mini-batch X of the epoch's shuffled order: w -> w - (eta/m) sum_{x in X} grad C_x",
        (math("'for_each_mini-batch X : w to w - ", frac("eta", "m"), under("sum", "x in X"), "nabla", sub("C", "x")),),
        (("train", "Model.train_epoch"), ("train", "_scanned_epoch")),
        _first_steps("ch3-xent-30", label="ch3-xent-30 1000 images"),
    ),
    # -- chapter 2 --
    Concept(
        "feedforward",
        "The network and its feedforward pass",
        2,
        "warm_up_a_fast_matrix-based_approach_to_computing_the_output_from_a_neural_network",
        "a' = sigma(w a + b)   (ch. 1, eq. 22)\n"
        "a^l_j = sigma(sum_k w^l_jk a^{l-1}_k + b^l_j)   (ch. 2, eq. 23)\n"
        "a^l = sigma(w^l a^{l-1} + b^l)   (ch. 2, eq. 25)",
        (
            math("a ′ = sigma ( w a + b )"),
            math(
                subsup("a", "j", "l"),
                " = sigma (",
                under("sum", "k"),
                subsup("w", "j k", "l"),
                subsup("a", "k", "l - 1"),
                "+",
                subsup("b", "j", "l"),
                ")",
            ),
            math(sup("a", "l"), " = sigma (", sup("w", "l"), sup("a", "l - 1"), "+", sup("b", "l"), ")"),
        ),
        (
            ("network", "Network"),
            ("network", "feedforward"),
            ("network", "infer"),
            ("network", "forward"),
            ("layers", "LAYERS"),
        ),
        _gradients("sigmoid", "quadratic", depth=2),
        aliases=("eq25",),
    ),
    Concept(
        "dense",
        "The fully connected layer, forward and back",
        2,
        "the_backpropagation_algorithm",
        "z^l = w^l a^{l-1} + b^l, a^l = sigma(z^l)",
        (
            math(
                sup("z", "l"),
                " = ",
                sup("w", "l"),
                sup("a", "l - 1"),
                "+",
                sup("b", "l"),
                ", ",
                sup("a", "l"),
                "= sigma (",
                sup("z", "l"),
                ")",
            ),
        ),
        (("layers", "Dense"),),
        _gradients("tanh", "cross_entropy", depth=2),
    ),
    Concept(
        "bp1",
        "BP1: the error of the output layer",
        2,
        FOUR_EQUATIONS,
        "delta^L_j = dC/da^L_j sigma'(z^L_j)   (BP1)\ndelta^L = nabla_a C odot sigma'(z^L)   (BP1, as vectors)",
        (
            math(
                subsup("delta", "j", "L"),
                " = ",
                frac("partial C", row("partial", subsup("a", "j", "L"))),
                "sigma ′ (",
                subsup("z", "j", "L"),
                ")",
            ),
            math(sup("delta", "L"), " = ", sub("nabla", "a"), "C odot sigma ′ (", sup("z", "L"), ")"),
        ),
        (("costs", "QuadraticCost.delta"), ("network", "backprop")),
        _gradients("sigmoid", "quadratic"),
        aliases=("bp-1",),
    ),
    Concept(
        "bp2",
        "BP2: the error of a layer from the next one",
        2,
        FOUR_EQUATIONS,
        "delta^l = ((w^{l+1})^T delta^{l+1}) odot sigma'(z^l)   (BP2)",
        (
            math(
                sup("delta", "l"),
                " = ( (",
                sup("w", "l + 1"),
                sup(")", "T"),
                sup("delta", "l + 1"),
                ") odot sigma ′ (",
                sup("z", "l"),
                ")",
            ),
        ),
        (("layers", "Dense.backward"), ("layers", "Dense.delta"), ("network", "backprop")),
        _gradients("sigmoid", "quadratic", depth=3),
    ),
    Concept(
        "bp3",
        "BP3: the gradient of the biases",
        2,
        FOUR_EQUATIONS,
        "dC/db^l_j = delta^l_j   (BP3)",
        (math(frac("partial C", row("partial", subsup("b", "j", "l"))), " = ", subsup("delta", "j", "l")),),
        (("layers", "Dense.backward"),),
        _gradients("sigmoid", "cross_entropy", depth=2, arrays="biases"),
    ),
    Concept(
        "bp4",
        "BP4: the gradient of the weights",
        2,
        FOUR_EQUATIONS,
        "dC/dw^l_jk = a^{l-1}_k delta^l_j   (BP4)",
        (
            math(
                frac("partial C", row("partial", subsup("w", "j k", "l"))),
                " = ",
                subsup("a", "k", "l - 1"),
                subsup("delta", "j", "l"),
            ),
        ),
        (("layers", "Dense.backward"),),
        _gradients("sigmoid", "cross_entropy", depth=2, arrays="weights"),
    ),
    # -- chapter 3 --
    Concept(
        "cross-entropy",
        "The cross-entropy cost: sigma' cancels from the output error",
        3,
        "the_cross-entropy_cost_function",
        "C = -(1/n) sum_x sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)]\ndelta^L = a^L - y",
        (
            math(
                "C = - ",
                frac("1", "n"),
                under("sum", "x"),
                under("sum", "j"),
                "[",
                sub("y", "j"),
                "ln",
                sub("a", "j"),
                "+ ( 1 -",
                sub("y", "j"),
                ") ln ( 1 -",
                sub("a", "j"),
                ") ]",
            ),
            math(sup("delta", "L"), " = ", sup("a", "L"), " - y"),
        ),
        (("costs", "CrossEntropyCost.fn"), ("costs", "CrossEntropyCost.delta")),
        _gradients("sigmoid", "cross_entropy"),
        aliases=("xent",),
    ),
    Concept(
        "softmax",
        "The softmax output layer",
        3,
        "softmax",
        "a_j = e^{z_j} / sum_k e^{z_k}",
        (math(sub("a", "j"), " = ", frac(sup("e", sub("z", "j")), row(under("sum", "k"), sup("e", sub("z", "k"))))),),
        (("activations", "Softmax"),),
        _gradients("sigmoid", "log_likelihood"),
    ),
    Concept(
        "log-likelihood",
        "The log-likelihood cost with a softmax output, and the table of costs",
        3,
        "softmax",
        "C = -ln a_y\ndelta^L = a^L - y",
        (math("C = - ln ", sub("a", "y")), math(sup("delta", "L"), " = ", sup("a", "L"), " - y")),
        (("costs", "LogLikelihoodCost.fn"), ("costs", "LogLikelihoodCost.delta"), ("costs", "COSTS")),
        _gradients("relu", "log_likelihood"),
    ),
    Concept(
        "activations",
        "Other neurons: tanh, ReLU and linear, and the table that names them",
        3,
        "other_models_of_artificial_neuron",
        "tanh(z), tanh'(z) = 1 - tanh(z)^2\nReLU(z) = max(0, z), ReLU'(z) = 1 if z > 0 else 0\nlinear(z) = z",
        (
            math("tanh ′ ( z ) = 1 - ", sup("tanh", "2"), "( z )"),
            math("ReLU ( z ) = max ( 0 , z ) , ReLU ′ ( z ) = 1 'if z > 0 'else 0"),
            math("linear ( z ) = z"),
        ),
        (
            ("activations", "Tanh"),
            ("activations", "ReLU"),
            ("activations", "Linear"),
            ("activations", "ACTIVATIONS"),
        ),
        _gradients("relu", "cross_entropy", depth=2),
    ),
    Concept(
        "cost-and-gradient",
        "A batch's regularised cost, its gradient, and evaluation",
        3,
        "regularization",
        "C = (1/m) sum_x C_x + (lambda/2n) sum_w w^2\naccuracy: argmax of a^L against the label",
        (
            math(
                "C = ",
                frac("1", "m"),
                under("sum", "x"),
                sub("C", "x"),
                "+",
                frac("lambda", "2 n"),
                under("sum", "w"),
                sup("w", "2"),
            ),
            math("accuracy : ", under("argmax", "j"), subsup("a", "j", "L"), "= label"),
        ),
        (
            ("network", "backprop"),
            ("network", "cost"),
            ("network", "gradients"),
            ("network", "penalty"),
            ("network", "evaluate"),
        ),
        _gradients("sigmoid", "cross_entropy", "l2"),
    ),
    Concept(
        "l2",
        "L2 regularisation: weight decay",
        3,
        "regularization",
        "C = C0 + (lambda/2n) sum_w w^2\n"
        "w -> (1 - eta lambda/n) w - eta dC0/dw   (one gradient)\n"
        "w -> (1 - eta lambda/n) w - (eta/m) sum_x dC_x/dw   (eq. 93, over a mini-batch)",
        (
            math("C = ", sub("C", "0"), "+", frac("lambda", "2 n"), under("sum", "w"), sup("w", "2")),
            math("w to ( 1 - ", frac("eta lambda", "n"), ") w - eta ", frac(sub("partial C", "0"), "partial w")),
            math(
                "w to ( 1 - ",
                frac("eta lambda", "n"),
                ") w - ",
                frac("eta", "m"),
                under("sum", "x"),
                frac(sub("partial C", "x"), "partial w"),
            ),
        ),
        (("regularizers", "NoRegularizer"), ("regularizers", "L2"), ("regularizers", "REGULARIZERS")),
        _gradients("sigmoid", "cross_entropy", "l2"),
        aliases=("weight-decay",),
    ),
    Concept(
        "l1",
        "L1 regularisation",
        3,
        "other_techniques_for_regularization",
        "C = C0 + (lambda/n) sum_w |w|\nw -> w - (eta lambda/n) sgn(w) - eta dC0/dw",
        (
            math("C = ", sub("C", "0"), "+", frac("lambda", "n"), under("sum", "w"), "| w |"),
            math("w to w - ", frac("eta lambda", "n"), "sgn ( w ) - eta ", frac(sub("partial C", "0"), "partial w")),
        ),
        (("regularizers", "L1"),),
        _gradients("tanh", "cross_entropy", "l1"),
    ),
    Concept(
        "dropout",
        "Dropout, network3's way: a keep-mask in training, a (1 - p) scale at inference",
        3,
        "other_techniques_for_regularization",
        "training: each unit of a layer's input is kept with probability 1 - p\n"
        "inference: every unit is kept, and the weights are scaled by 1 - p",
        (
            math("z = w ( x odot mask ) + b , ", sub("mask", "i"), "~ Bernoulli ( 1 - p )"),
            math("z = ( 1 - p ) w x + b 'at_inference"),
        ),
        (("layers", "Dense.forward"), ("layers", "Dense.infer")),
        SameMasks(GradientCase("sigmoid", "cross_entropy", "none", True, "default", 2)),
    ),
    # -- chapter 6 --
    Concept(
        "convolution",
        "Convolution: local receptive fields and shared weights",
        6,
        CONV,
        "y_{f,i,j} = sum_{c,p,q} x_{c,i+p,j+q} w_{f,c,p,q}",
        (
            math(
                sub("y", "f , i , j"),
                " = ",
                under("sum", "c , p , q"),
                sub("x", "c , i + p , j + q"),
                sub("w", "f , c , p , q"),
            ),
        ),
        (
            ("convolution", "correlate"),
            ("convolution", "correlate_in_scan"),
            ("convolution", "weight_gradient"),
            ("convolution", "input_gradient"),
        ),
        _conv_gradients("max-first"),
    ),
    Concept(
        "conv-layer",
        "The convolutional-pooling layer",
        6,
        CONV,
        "z = pool(w * x) + b, a = sigma(z): pooling before the bias and activation, as network3",
        (math("z = pool ( w star x ) + b , a = sigma ( z )"),),
        (("layers", "ConvPool"),),
        _conv_gradients("max-first", "sigmoid"),
    ),
    Concept(
        "max-pooling",
        "Max pooling, and where the gradient of a tied window goes",
        6,
        CONV,
        "pooled = the largest entry of each size x size window",
        (math("pooled = ", under("max", "window"), "u"),),
        (("pooling", "MaxPool"), ("pooling", "POOLS")),
        TiedWindow(),
        aliases=("maxpool", "pooling"),
    ),
    Concept(
        "l2-pooling",
        "L2 pooling",
        6,
        CONV,
        "pooled = sqrt(sum of the squares in each window)",
        (math("pooled = ", sqrt(under("sum", "window"), sup("u", "2"))),),
        (("pooling", "L2Pool"),),
        _conv_gradients("l2"),
    ),
    Concept(
        "ensemble",
        "An ensemble's plurality vote, its members trained as one computation",
        6,
        "convolutional_neural_networks_in_practice",
        "class(x) = argmax_j a_j^L(x)\nvote(x) = the class most members give x",
        (
            math("class ( x ) = ", under("argmax", "j"), subsup("a", "j", "L"), "( x )"),
            math("vote ( x ) = 'the_class_most_members_give_x"),
        ),
        (("network", "predict"), ("train", "Ensemble")),
        None,
    ),
    # -- nndl's own --
    Concept(
        "near-ties",
        "Max-pool near ties in float32: where the order of a sum picks the maximum",
        None,
        "",
        "a window whose two largest entries are at most 16 ulps apart: either may come out on top",
        (math(sub("u", "first"), "-", sub("u", "second"), "<= 16 'ulps", "to", "'either_may_win"),),
        (("ties", "NEAR_TIE_ULPS"), ("ties", "NearTie"), ("ties", "near_ties"), ("ties", "gradients_with_swapped")),
        FirstSteps(
            TrajectoryCase("ch6-conv2-relu", (SMALL_TRAINING,), label="ch6-conv2-relu 1000 images", dtype="float32")
        ),
    ),
    Concept(
        "conv-slips",
        "Slips in backprop through a conv-pool layer, tried against a port's gradient",
        None,
        "",
        "a slip is named when the reference, with it made, gives the port's gradient within the bound",
        (math("'the_reference_with_the_slip", "to", "'the_port's_gradient", "<= 'the_bound"),),
        (("conv_slips", "SLIPS"), ("conv_slips", "gradients_with_slip")),
        None,
    ),
    Concept(
        "streams",
        "The shared random streams, and each framework's own (--rng native)",
        None,
        "",
        "initial weights, epoch orders and dropout masks: drawn once, in NumPy, from (seed, stream, epoch)",
        (math("( seed , stream , epoch ) to 'initial_weights , 'epoch_order , 'dropout_masks"),),
        (("streams", "*"),),
        _first_steps("ch3-xent-30", *DROPOUT_RELU_SOFTMAX, label="dropout relu-100 softmax 1000 images"),
        aliases=("rng",),
    ),
    Concept(
        "devices",
        "Devices and dtypes: where a backend's arrays live",
        None,
        "",
        "float64 is the conformance dtype; float32 has its own, looser bounds",
        (math("float64 : 'conformance , float32 : 'looser_bounds"),),
        (("device", "*"),),
        Gradients(GradientCase("sigmoid", "cross_entropy", "none", False, "default", 1, "float32")),
    ),
    Concept(
        "baselines",
        "The bench's baselines: the same math with nothing around it, and the book's per-example algorithm",
        None,
        "",
        "per-example: backprop on one x at a time, the batch's gradient = (1/m) sum_x grad C_x",
        (math("nabla C = ", frac("1", "m"), under("sum", "x"), "nabla", sub("C", "x")),),
        (
            ("baseline", "bare_epoch"),
            ("baseline", "bare_cnn_epoch"),
            ("baseline", "per_example_backprop"),
            ("baseline", "per_example_gradients"),
            ("baseline", "per_example_epoch"),
            ("baseline", "synchronize"),
            ("baseline", "bench_rows"),
        ),
        None,
    ),
    Concept(
        "contract",
        "The backend contract: what every backend provides",
        None,
        "",
        "a backend: NAME and a Model, required; supports, FRAMEWORKS, DEVICES, asarray, ..., optional with defaults",
        (math("Model ( spec , params , device ) : train_epoch , gradients , parameters , load"),),
        (("__init__", "*"), ("train", "Model")),
        Contract(),
    ),
)

TEACHING = Path(__file__).with_name("lessons.toml")


def taught(concept: Concept, teaching: dict) -> Concept:
    """The concept with what lessons.toml says it teaches: its paragraph, rules, anchors and helpers."""
    return replace(
        concept,
        look_for=teaching["look_for"],
        rules=teaching.get("rules", ""),
        anchors=tuple(_anchor(anchor) for anchor in teaching.get("anchors", ())),
        helpers=tuple(_helpers(helpers) for helpers in teaching.get("helpers", ())),
    )


def _anchor(table: dict) -> Anchor:
    return Anchor(table["part"], tuple((backend, text) for backend, text in table.items() if backend != "part"))


def _helpers(table: dict) -> Helpers:
    fields = {"title", "module", "absent", "roles"}
    names = tuple((backend, tuple(found)) for backend, found in table.items() if backend not in fields)
    return Helpers(table["title"], table["module"], names, table["absent"], tuple(table.get("roles", {}).items()))


def read_teaching() -> dict:
    """lessons.toml: per lesson name, what it teaches."""
    with TEACHING.open("rb") as file:
        return tomllib.load(file)


_TEACHING = read_teaching()
CONCEPTS = tuple(taught(concept, _TEACHING[concept.name]) for concept in _CONCEPTS)

CHAPTERS = {
    1: "Chapter 1: using neural nets to recognize handwritten digits",
    2: "Chapter 2: how the backpropagation algorithm works",
    3: "Chapter 3: improving the way neural networks learn",
    6: "Chapter 6: deep learning",
    None: "nndl's own: what running the book three ways needs",
}

BY_NAME = {concept.name: concept for concept in CONCEPTS}
ALIASES = {alias: concept for concept in CONCEPTS for alias in (concept.name, *concept.aliases)}


def find(name: str) -> Concept | None:
    """The concept `name` names, in any case, or an alias of it ("BP1", "xent"); None for none."""
    return ALIASES.get(name.strip().lower())
