"""The lessons of `nndl lesson`: each concept of the book, its equation, and where the three backends define it.

A concept names its code by module and definition, ("costs", "CrossEntropyCost.fn"): a top-level
name, or a method as Class.method, or "*" for a whole module. `nndl lesson` reads the source of
every backend (conformance.book.lesson, through `ast`), so what it shows is the code itself and cannot
drift from it; tests/test_lesson.py fails when a public name of a backend module belongs to no
concept. The equation is written twice, by hand: as plain text for the terminal and as MathML,
which browsers render with no script, for the HTML site. The evidence is the conformance check
that `nndl lesson` runs live to show that the backends agree on the concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

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
}


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
    return f"<munder>{row(operator)}{row(below)}</munder>"


def sqrt(*items: str) -> str:
    return f"<msqrt>{row(*items)}</msqrt>"


def math(*items: str) -> str:
    """One displayed equation."""
    return f'<math display="block">{row(*items)}</math>'


# -- what a lesson runs to show that the backends agree -----------------------------------------


@dataclass(frozen=True)
class Gradients:
    """The gradient of a net's mean cost on MNIST's first mini-batch, in every backend and by finite differences."""

    case: GradientCase | ConvGradientCase


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


SMALL_TRAINING = ("data.train_size", 1000)  # enough rows for a few steps, quick to hand to every backend


def _gradients(activation, cost, regularizer="none", dropout=False, init="default", depth=1) -> Gradients:
    return Gradients(GradientCase(activation, cost, regularizer, dropout, init, depth))


def _conv_gradients(pooling: str, activation: str = "relu") -> Gradients:
    return Gradients(ConvGradientCase(1, pooling, activation, "none", False, "default"))


def _first_steps(preset: str, *changes, label: str) -> FirstSteps:
    return FirstSteps(TrajectoryCase(preset, (SMALL_TRAINING, *changes), label=label))


# -- the concepts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Concept:
    name: str  # what `nndl lesson NAME` is called with
    title: str
    equation: str  # the book's equation or rule, plain text, one or more lines
    mathml: tuple[str, ...]  # the same, one <math> element per line
    code: tuple[tuple[str, str], ...]  # (module, definition) in every backend
    evidence: Gradients | FirstSteps | PerceptronOutputs | Contract | None
    note: str = ""  # what to look for in the code


SIGMOID_Z = frac("1", row("1 + ", sup("e", "- z")))
W_A_B = row(sub("w", "j k"), subsup("a", "k", "l - 1"), "+", sub("b", "j"))

CONCEPTS = (
    Concept(
        "perceptron",
        "Perceptrons, the NAND gate, and an adder built of NANDs (ch. 1)",
        "output = 0 if w . x + b <= 0, 1 if w . x + b > 0   (eq. 2)\n"
        "NAND: w = (-2, -2), b = 3: 00, 01, 10 give 1; 11 gives 0\n"
        "adder: sum = x1 XOR x2, carry = x1 AND x2, from five NAND perceptrons",
        (
            math("output = 0 'if w cdot x + b <= 0 , 1 'if w cdot x + b > 0"),
            math("NAND ( ", sub("x", "1"), ",", sub("x", "2"), ") : w = ( - 2 , - 2 ) , b = 3"),
            math(
                "sum = ",
                sub("x", "1"),
                "⊕",
                sub("x", "2"),
                ", carry = ",
                sub("x", "1"),
                sub("x", "2"),
            ),
        ),
        (
            ("perceptron", "NAND_WEIGHTS"),
            ("perceptron", "NAND_BIAS"),
            ("perceptron", "perceptron"),
            ("perceptron", "nand"),
            ("perceptron", "add_bits"),
        ),
        PerceptronOutputs(),
        "Forward only: the step has no useful gradient, so there is nothing for autograd to derive.",
    ),
    Concept(
        "sigmoid",
        "The sigmoid neuron and its derivative (ch. 1, eq. 3; ch. 2)",
        "sigma(z) = 1 / (1 + e^-z)   (eq. 3)\nsigma'(z) = sigma(z) (1 - sigma(z))",
        (math("sigma ( z ) = ", SIGMOID_Z), math("sigma ′ ( z ) = sigma ( z ) ( 1 - sigma ( z ) )")),
        (("activations", "Sigmoid.fn"), ("activations", "Sigmoid.prime")),
        _gradients("sigmoid", "quadratic"),
        "The reference writes sigma' out for BP2; the framework backends derive it from fn.",
    ),
    Concept(
        "activations",
        "Other neurons: tanh, ReLU and linear, and the table that names them (ch. 3, ch. 6)",
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
        "softmax",
        "The softmax output layer (ch. 3)",
        "a_j = e^{z_j} / sum_k e^{z_k}",
        (math(sub("a", "j"), " = ", frac(sup("e", sub("z", "j")), row(under("sum", "k"), sup("e", sub("z", "k"))))),),
        (("activations", "Softmax"),),
        _gradients("sigmoid", "log_likelihood"),
        "Shifting z by its maximum changes no a_j and keeps every exponent from overflowing.",
    ),
    Concept(
        "quadratic",
        "The quadratic cost and its output error (ch. 1, eq. 6; ch. 2, BP1)",
        "C = 1/(2n) sum_x ||y(x) - a||^2   (eq. 6)\ndelta^L = (a - y) * sigma'(z^L)   (BP1)",
        (
            math("C = ", frac("1", "2 n"), under("sum", "x"), sup("‖ y ( x ) - a ‖", "2")),
            math(sup("delta", "L"), " = ( a - y ) odot sigma ′ (", sup("z", "L"), ")"),
        ),
        (("costs", "QuadraticCost.fn"), ("costs", "QuadraticCost.delta")),
        _gradients("sigmoid", "quadratic"),
    ),
    Concept(
        "cross-entropy",
        "The cross-entropy cost: sigma' cancels from the output error (ch. 3)",
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
        "The reference writes BP1 as delta; the framework backends have none: they differentiate fn.",
    ),
    Concept(
        "log-likelihood",
        "The log-likelihood cost with a softmax output, and the table of costs (ch. 3)",
        "C = -ln a_y\ndelta^L = a^L - y",
        (math("C = - ln ", sub("a", "y")), math(sup("delta", "L"), " = ", sup("a", "L"), " - y")),
        (("costs", "LogLikelihoodCost.fn"), ("costs", "LogLikelihoodCost.delta"), ("costs", "COSTS")),
        _gradients("relu", "log_likelihood"),
    ),
    Concept(
        "feedforward",
        "The network and its feedforward pass (ch. 1, eq. 22 and 25)",
        "a^l_j = sigma(sum_k w^l_jk a^{l-1}_k + b^l_j)   (eq. 23)\na^l = sigma(w^l a^{l-1} + b^l)   (eq. 25)",
        (math(sup("a", "l"), " = sigma (", sup("w", "l"), sup("a", "l - 1"), "+", sup("b", "l"), ")"),),
        (
            ("network", "Network"),
            ("network", "feedforward"),
            ("network", "infer"),
            ("network", "forward"),
            ("layers", "LAYERS"),
        ),
        _gradients("sigmoid", "quadratic", depth=2),
    ),
    Concept(
        "dense",
        "The fully connected layer, forward and back (ch. 1, eq. 25; ch. 2)",
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
        "The reference's Dense has backward and delta; the framework backends derive them from forward.",
    ),
    Concept(
        "bp1",
        "BP1: the error of the output layer (ch. 2)",
        "delta^L_j = dC/da^L_j * sigma'(z^L_j)   (BP1)\ndelta^L = nabla_a C odot sigma'(z^L)",
        (math(sup("delta", "L"), " = ", sub("nabla", "a"), "C odot sigma ′ (", sup("z", "L"), ")"),),
        (("costs", "QuadraticCost.delta"), ("network", "backprop")),
        _gradients("sigmoid", "quadratic"),
        "backprop divides delta^L by m once: BP2-BP4 are linear in delta, so every gradient is the batch mean's.",
    ),
    Concept(
        "bp2",
        "BP2: the error of a layer from the next one (ch. 2)",
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
        "BP3: the gradient of the biases (ch. 2)",
        "dC/db^l_j = delta^l_j   (BP3)",
        (math(frac("partial C", row("partial", subsup("b", "j", "l"))), " = ", subsup("delta", "j", "l")),),
        (("layers", "Dense.backward"),),
        _gradients("sigmoid", "cross_entropy", depth=2),
    ),
    Concept(
        "bp4",
        "BP4: the gradient of the weights (ch. 2)",
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
        _gradients("sigmoid", "cross_entropy", depth=2),
    ),
    Concept(
        "cost-and-gradient",
        "A batch's regularised cost, its gradient, and evaluation (ch. 3)",
        "C = (1/m) sum_x C_x + (regulariser's term, with lambda / n)\naccuracy: argmax of a^L against the label",
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
        "L2 regularisation: weight decay (ch. 3, eq. 85-93)",
        "C = C0 + lambda/(2n) sum_w w^2   (eq. 87)\nw -> (1 - eta lambda / n) w - eta dC0/dw   (eq. 93)",
        (
            math("C = ", sub("C", "0"), "+", frac("lambda", "2 n"), under("sum", "w"), sup("w", "2")),
            math("w to ( 1 - ", frac("eta lambda", "n"), ") w - eta ", frac(sub("partial C", "0"), "partial w")),
        ),
        (("regularizers", "NoRegularizer"), ("regularizers", "L2"), ("regularizers", "REGULARIZERS")),
        _gradients("sigmoid", "cross_entropy", "l2"),
        "The reference gives the penalty's gradient; the framework backends differentiate penalty.",
    ),
    Concept(
        "l1",
        "L1 regularisation (ch. 3, eq. 95-97)",
        "C = C0 + (lambda/n) sum_w |w|   (eq. 95)\nw -> w - (eta lambda / n) sgn(w) - eta dC0/dw   (eq. 97)",
        (
            math("C = ", sub("C", "0"), "+", frac("lambda", "n"), under("sum", "w"), "| w |"),
            math("w to w - ", frac("eta lambda", "n"), "sgn ( w ) - eta ", frac(sub("partial C", "0"), "partial w")),
        ),
        (("regularizers", "L1"),),
        _gradients("tanh", "cross_entropy", "l1"),
        "sgn(0) = 0 in every backend: the L1 kink is where finite differences are not trusted.",
    ),
    Concept(
        "dropout",
        "Dropout, network3's way: a keep-mask in training, a (1 - p) scale at inference (ch. 3, ch. 6)",
        "training: z = w (x odot mask) + b, mask_i ~ Bernoulli(1 - p)\ninference: z = (1 - p) w x + b",
        (
            math("z = w ( x odot mask ) + b , ", sub("mask", "i"), "~ Bernoulli ( 1 - p )"),
            math("z = ( 1 - p ) w x + b 'at_inference"),
        ),
        (("layers", "Dense.forward"), ("layers", "Dense.infer")),
        _gradients("sigmoid", "cross_entropy", dropout=True, depth=2),
        "Every backend gets the same masks, drawn once in NumPy (see `nndl lesson streams`).",
    ),
    Concept(
        "ensemble",
        "An ensemble's plurality vote, its members trained as one computation (ch. 6)",
        "class(x) = argmax_j a_j^L(x)   (ch. 1: the most active output neuron)\n"
        "vote(x) = the class most members give x; a tie goes to the lowest of the most voted",
        (
            math("class ( x ) = ", under("argmax", "j"), subsup("a", "j", "L"), "( x )"),
            math("vote ( x ) = 'the_class_most_members_give_x"),
        ),
        (("network", "predict"), ("train", "Ensemble")),
        None,
        "One backend vmaps the gradient over the members' stacked parameters, another the whole scanned epoch; "
        "`nndl conform` checks each member against the member trained alone.",
    ),
    Concept(
        "sgd",
        "The SGD update (ch. 1, eq. 20-21; ch. 3)",
        "w -> w - (eta/m) sum_x dC_x/dw   (eq. 20)\nb -> b - (eta/m) sum_x dC_x/db   (eq. 21)",
        (
            math("w to w - ", frac("eta", "m"), under("sum", "x"), frac(sub("partial C", "x"), "partial w")),
            math("b to b - ", frac("eta", "m"), under("sum", "x"), frac(sub("partial C", "x"), "partial b")),
        ),
        (("train", "sgd_step"),),
        _first_steps("ch1-sigmoid-30", label="ch1-sigmoid-30 1000 images"),
        "Two backends change the arrays in place; the functional one returns new ones.",
    ),
    Concept(
        "epoch",
        "The epoch: a Python loop of mini-batches, or one compiled lax.scan (ch. 1)",
        "for each mini-batch of the epoch's shuffled order: one SGD step",
        (
            math(
                "for 'each 'mini-batch X : w to w - ", frac("eta", "m"), under("sum", "x in X"), "nabla", sub("C", "x")
            ),
        ),
        (("train", "Model.train_epoch"), ("train", "_scanned_epoch")),
        _first_steps("ch3-xent-30", label="ch3-xent-30 1000 images"),
    ),
    Concept(
        "streams",
        "The shared random streams, and each framework's own (--rng native)",
        "initial weights, epoch orders and dropout masks are drawn once, in NumPy, from (seed, stream, epoch)\n"
        "and handed to every backend; --rng native draws them with the framework's own generator instead",
        (math("( seed , stream , epoch ) to 'initial_weights , 'epoch_order , 'dropout_masks"),),
        (("streams", "*"),),
        _first_steps("ch3-xent-30", *DROPOUT_RELU_SOFTMAX, label="dropout relu-100 softmax 1000 images"),
    ),
    Concept(
        "devices",
        "Devices and dtypes: where a backend's arrays live",
        "float64 is the conformance dtype; float32 has its own, looser bounds",
        (math("float64 : 'conformance , float32 : 'looser_bounds"),),
        (("device", "*"),),
        Gradients(GradientCase("sigmoid", "cross_entropy", "none", False, "default", 1, "float32")),
    ),
    Concept(
        "convolution",
        "Convolution: local receptive fields and shared weights (ch. 6, eq. 125)",
        "y_{n,f,i,j} = sum_{c,p,q} x_{n,c,i+p,j+q} w_{f,c,p,q}   (cross-correlation; network3 flips w)\n"
        "backprop through it: the book's problem in ch. 6",
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
        "The convolutional-pooling layer (ch. 6)",
        "z = pool(w * x) + b, a = sigma(z): pooling before the bias and activation, as network3",
        (math("z = pool ( w star x ) + b , a = sigma ( z )"),),
        (("layers", "ConvPool"),),
        _conv_gradients("max-first", "sigmoid"),
    ),
    Concept(
        "max-pooling",
        "Max pooling (ch. 6), and where the gradient of a tied window goes",
        "pooled = max over each size x size window\nties: 'first' (the frameworks' own rule) or 'all' (network3's Theano)",
        (math("pooled = ", under("max", "window"), "u"),),
        (("pooling", "MaxPool"), ("pooling", "POOLS")),
        _conv_gradients("max-first"),
    ),
    Concept(
        "near-ties",
        "Max-pool near ties in float32: where the order of a sum picks the maximum (nndl's, not the book's)",
        "a window whose two largest entries are at most 16 ulps apart: either can come out on top, by the\n"
        "order in which the convolution sums, and the window's gradient then goes to the other entry",
        (math(sub("u", "first"), "-", sub("u", "second"), "<= 16 'ulps", "to", "'either_may_win"),),
        (("ties", "NEAR_TIE_ULPS"), ("ties", "NearTie"), ("ties", "near_ties"), ("ties", "gradients_with_swapped")),
        FirstSteps(
            TrajectoryCase("ch6-conv2-relu", (SMALL_TRAINING,), label="ch6-conv2-relu 1000 images", dtype="float32")
        ),
        note="why float32 conformance takes each step from the reference's parameters: conformance/suite/tolerances.py",
    ),
    Concept(
        "l2-pooling",
        "L2 pooling (ch. 6)",
        "pooled = sqrt(sum of the squares in each window); its gradient u / pooled, 0 in an all-zero window",
        (math("pooled = ", sqrt(under("sum", "window"), sup("u", "2"))),),
        (("pooling", "L2Pool"),),
        _conv_gradients("l2"),
    ),
    Concept(
        "baselines",
        "The bench's baselines: the same math with nothing around it, and the book's per-example algorithm",
        "per-example: backprop on one x at a time, the batch's gradient = (1/m) sum_x grad C_x (ch. 2)",
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
        "`nndl bench` times these; their gradients are the backends' own.",
    ),
    Concept(
        "contract",
        "The backend contract: what every backend provides",
        "a backend: NAME, FRAMEWORKS, DEVICES, COMPILES, Model, asarray, resolve_device, synchronize, bench_rows",
        (math("Model ( spec , params , device ) : train_epoch , gradients , evaluate , parameters , load"),),
        (("__init__", "*"), ("train", "Model")),
        Contract(),
    ),
)

BY_NAME = {concept.name: concept for concept in CONCEPTS}
