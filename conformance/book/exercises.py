"""The exercises of `nndl exercise`, as data: each is the reference with one function left to the learner.

`nndl exercise start NAME DIR` writes an entry's `skeleton` as DIR/exercise.py (the one function: its
signature, a docstring with the book's equation, `raise NotImplementedError`), its `port` as DIR/port.py
(the reference with the learner's function in the place of its own) and a five-line README.
`nndl exercise check DIR` (conformance/book/grading.py) runs the quick conformance rows whose names match
the entry's `cases`, the reference against DIR's port, with --explain, and says one of: pass (the worst
difference and what it means), wrong (--explain's verdict: the equation, the layer, the array, the
ratio), or not written yet (the function raised NotImplementedError: a failure).

To add an exercise, add an `Exercise` to EXERCISES (a new chapter's exercises may sit in a module of
their own whose list is added to EXERCISES here):
- `skeleton`: the text of exercise.py, with the function the port imports by `function`'s name.
- `port`: the text of port.py, a backend module (NAME "yours", `Model`, and `supports` to decline the
  nets the exercise has nothing to do with); `start` writes the entry's name into DIR/__init__.py.
  The reference runs in the same process, so the port never changes a module or class of the
  reference: it subclasses what it replaces and gives only its own objects the learner's function
  (a Model whose network has another cost, another layer, or an epoch loop of its own). `COST_PORT`,
  `BACKPROP_PORT` and `STEP_PORT` are templates (str.format) for the kinds built so far.
- `cases`: regular expressions searched in `nndl conform --list`'s names (--quick): the few rows that
  run the learner's function, so that a check takes seconds.
- `lesson` (and `also`): the lessons whose text and site page name the exercise's `start` command.
- The hint is --explain's, found from the numbers only (conformance/suite/explain.py and the modules
  beside it). Where it cannot yet name the slip the exercise invites, teach it there, never by
  reading the learner's source. tests/test_exercise.py holds each exercise to: the skeleton is
  "not written yet", the reference's own solution passes, a typical wrong answer gets its hint.
- Equation numbers only where checked against the book (README, lessons.toml); else the section.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Exercise:
    name: str  # `nndl exercise start NAME DIR`
    title: str
    chapter: int
    problem: str  # the book's equation or problem the function is: "BP1-BP4", "eq. 93", or the section
    lesson: str  # the `nndl lesson` it belongs to (the site links the lesson to the exercise)
    function: str  # the learner's function in exercise.py
    skeleton: str  # exercise.py
    port: str  # port.py
    cases: tuple[str, ...]  # `nndl conform --case` patterns: the rows that run the function
    also: tuple[str, ...] = ()  # other lessons whose equations it exercises (the site links them too)

    def command(self) -> str:
        return f"nndl exercise start {self.name} DIR"


PORT_HEAD = '''\
"""nndl's reference (NumPy) with your `{function}` from exercise.py in the place of its own, for
`nndl exercise check`. Only this port's own objects use your function: the reference, which it is
compared with in the same process, keeps its own. You need not change this file.
"""
'''

COST_PORT = (
    PORT_HEAD
    + '''
import reference
from reference.costs import {cost_class}

from .exercise import delta

NAME = "yours"


def supports(spec):
    """Your function runs only in the nets with this cost."""
    return None if spec.network.cost == "{cost}" else "not the {cost} cost"


class YourCost({cost_class}):
    delta = staticmethod(delta)


class Model(reference.Model):
    def __init__(self, spec, params, device="cpu"):
        super().__init__(spec, params, device)
        self.network.cost = YourCost  # this model's network only
'''
)

COST_SKELETON = '''\
"""Your exercise: {title} (ch. {chapter}, {problem}). Check it with `nndl exercise check DIR`."""

import numpy as np  # noqa: F401 (yours to use)


def delta(z, a, y):
    """{equation}

    Rows are examples: z (the output layer's weighted input), a (its activation) and the one-hot
    desired output y are (m, 10) arrays. Return delta^L of each example, an (m, 10) array; the caller
    takes the mean over the mini-batch.
    """
    raise NotImplementedError
'''


def _cost_exercise(name, title, chapter, problem, lesson, cost, cost_class, equation, cases, also=()) -> Exercise:
    fields = {"name": name, "title": title, "chapter": chapter, "problem": problem, "function": "delta"}
    skeleton = COST_SKELETON.format(**fields, equation=equation)
    port = COST_PORT.format(**fields, cost=cost, cost_class=cost_class)
    return Exercise(name, title, chapter, problem, lesson, "delta", skeleton, port, cases, also)


BACKPROP_SKELETON = '''\
"""Your exercise: backpropagation, BP1-BP4 (ch. 2), for a dense net. Check it with `nndl exercise check DIR`."""

import numpy as np  # noqa: F401 (yours to use)


def backprop(weights, activations, zs, y, cost_delta, sigma_primes):
    """The gradient of the mini-batch's mean cost C = (1/m) sum_x C_x by the four equations of
    backpropagation (ch. 2), as [(dC/dW^1, dC/db^1), ..., (dC/dW^L, dC/db^L)]:

        BP1: delta^L = nabla_a C * sigma'(z^L)        (the cost's: cost_delta(z^L, a^L, y))
        BP2: delta^l = ((W^(l+1))^T delta^(l+1)) * sigma'(z^l)
        BP3: dC/db^l_j = delta^l_j
        BP4: dC/dW^l_jk = a^(l-1)_k delta^l_j

    with * the elementwise product. The book writes one example as a column; here the m examples
    are the rows of every array, so (W^T delta) becomes delta @ W, and BP3 and BP4 sum over the rows.
    Divide delta^L by m once: BP2-BP4 are linear in delta, so every gradient is then the mean's.

    weights[l - 1] is W^l, an (n_l, n_(l-1)) array; activations[0] is the input x, (m, 784), and
    activations[l] = a^l = sigma(z^l), (m, n_l), with zs[l - 1] = z^l; y is the one-hot desired
    output, (m, 10). sigma_primes[l - 1](z) is sigma'(z) of layer l's activation function.
    """
    raise NotImplementedError
'''

BACKPROP_PORT = (
    PORT_HEAD.format(function="backprop")
    + '''
import numpy as np

import reference
from conformance.data.streams import batch_bounds
from reference.network import forward
from reference.regularizers import REGULARIZERS
from reference.train import sgd_step

from .exercise import backprop

NAME = "yours"


def supports(spec):
    """Your function is written for dense nets without dropout."""
    if any(layer.type != "dense" for layer in spec.network.layers):
        return "dense nets only"
    return "no dropout" if spec.network.has_dropout else None


def sigma_prime(activation):
    """sigma'(z) of an activation function, from z alone."""
    return lambda z: activation.prime(z, activation.fn(z))


def your_gradients(network, params, x, y):
    """The reference's forward pass, then your backward pass: [(dC/dW, dC/db)] of the batch's mean cost."""
    zs, activations, _ = forward(network, params, x, [None] * len(params))
    primes = [sigma_prime(layer.activation) for layer in network.layers]
    grads = backprop([w for w, _ in params], [x, *activations], zs, y, network.cost.delta, primes)
    for l, ((grad_w, grad_b), (w, b)) in enumerate(zip(grads, params), start=1):
        if np.shape(grad_w) != w.shape or np.shape(grad_b) != b.shape:
            raise ValueError(
                f"backprop gave dC/dW^{l} of shape {np.shape(grad_w)} and dC/db^{l} of shape {np.shape(grad_b)}: "
                f"each must have its parameter's shape, W^{l} {w.shape} and b^{l} {b.shape}"
            )
    return grads


class Model(reference.Model):
    def train_epoch(self, data, plan, eta, on_step=None):
        """The reference's epoch: one SGD step per mini-batch, with your gradients."""
        with np.errstate(over="ignore", invalid="ignore"):
            for start, stop in batch_bounds(len(plan.order), self.spec.training.batch_size):
                batch = plan.order[start:stop]
                grads = your_gradients(self.network, self.params, data.x[batch], data.y[batch])
                sgd_step(self.spec.training, self.params, grads, eta, len(data.x))
                if on_step is not None:
                    on_step()

    def gradients(self, x, y, masks, n):
        """Your gradient of the batch's mean cost, plus the regulariser's term (the reference's)."""
        training, dtype = self.spec.training, np.dtype(self.spec.training.dtype)
        regularizer = REGULARIZERS[training.regularizer]
        with np.errstate(over="ignore"):
            grads = your_gradients(self.network, self.params, x.astype(dtype), y.astype(dtype))
        return [(gw + regularizer.gradient(w, training.lmbda, n), gb) for (w, _), (gw, gb) in zip(self.params, grads)]
'''
)

STEP_SKELETON = '''\
"""Your exercise: {title} (ch. 3, {problem}). Check it with `nndl exercise check DIR`."""

import numpy as np  # noqa: F401 (yours to use)


def {function}(w, gradient_sum, eta, lmbda, n, m):
    """One SGD step of a weight matrix with {regulariser} regularisation ({citation}):

        {rule}

    {note}n is the size of the whole training set, m that of the mini-batch, and gradient_sum is
    sum_x dC_x/dw over the mini-batch's m examples, of the cost without the regulariser's term.
    Return the new w, an array of w's shape. The biases are stepped for you:
    b -> b - (eta / m) sum_x dC_x/db.
    """
    raise NotImplementedError
'''

STEP_PORT = (
    PORT_HEAD
    + '''
import numpy as np

import reference
from conformance.data.streams import batch_bounds
from reference.network import backprop

from .exercise import {function}

NAME = "yours"


def supports(spec):
    """Your function runs only in the nets with {regulariser} regularisation."""
    return None if spec.training.regularizer == "{regularizer}" else "no {regulariser} regularisation"


class Model(reference.Model):
    def train_epoch(self, data, plan, eta, on_step=None):
        """The reference's epoch, each mini-batch's weights stepped by your function."""
        training, network, masks = self.spec.training, self.spec.network, [None] * len(self.params)
        with np.errstate(over="ignore", invalid="ignore"):
            for start, stop in batch_bounds(len(plan.order), training.batch_size):
                batch, m = plan.order[start:stop], stop - start
                if network.has_dropout:
                    masks = [None if mask is None else mask[start:stop] for mask in plan.masks]
                grads = backprop(self.network, self.params, data.x[batch], data.y[batch], masks)  # the mean's
                for (w, b), (grad_w, grad_b) in zip(self.params, grads):
                    w[...] = {function}(w, m * grad_w, eta, training.lmbda, len(data.x), m)
                    b -= eta * grad_b
                if on_step is not None:
                    on_step()
'''
)


def _step_exercise(name, title, problem, lesson, regularizer, function, citation, rule, note, cases) -> Exercise:
    fields = {"title": title, "problem": problem, "function": function, "regulariser": regularizer.upper()}
    skeleton = STEP_SKELETON.format(**fields, citation=citation, rule=rule, note=note)
    port = STEP_PORT.format(**fields, regularizer=regularizer)
    return Exercise(name, title, 3, problem, lesson, function, skeleton, port, cases)


FOUR_EQUATIONS = "BP1-BP4"
EXERCISES = [
    Exercise(
        "backprop",
        "backpropagation for a dense net, the whole backward pass",
        2,
        FOUR_EQUATIONS,
        "bp2",
        "backprop",
        BACKPROP_SKELETON,
        BACKPROP_PORT,
        (
            "^grad (sigmoidx3 sigmoid/quadratic|tanhx3 softmax/log_likelihood|relux2 sigmoid/quadratic) .* float64$",
            "^train ch3-l2-30 float64",
        ),
        also=("bp1", "bp3", "bp4"),
    ),
    _cost_exercise(
        "quadratic-delta",
        "the output error of the quadratic cost",
        2,
        "BP1",
        "quadratic",
        "quadratic",
        "QuadraticCost",
        "BP1 for the quadratic cost C = 1/2 ||y - a||^2 with sigmoid outputs (ch. 2, BP1):\n\n"
        "        delta^L = nabla_a C * sigma'(z^L) = (a^L - y) * sigma'(z^L),\n\n"
        "    with sigma'(z) = sigma(z) (1 - sigma(z)), and * the elementwise (Hadamard) product.",
        ("^grad (sigmoidx1|tanhx3) sigmoid/quadratic .* float64$",),
        also=("bp1",),
    ),
    _cost_exercise(
        "cross-entropy-delta",
        "the output error of the cross-entropy cost",
        3,
        "section 'the cross-entropy cost function'",
        "cross-entropy",
        "cross_entropy",
        "CrossEntropyCost",
        "BP1 for the cross-entropy cost C = -sum_j [y_j ln a_j + (1 - y_j) ln(1 - a_j)] with sigmoid\n"
        "    outputs (ch. 3, 'the cross-entropy cost function'; BP1 of ch. 2 is nabla_a C * sigma'(z^L)):\n\n"
        "        delta^L = a^L - y,\n\n"
        "    because dC/da_j = (a_j - y_j) / (a_j (1 - a_j)) and sigma'(z_j) = a_j (1 - a_j) cancel.",
        ("^grad (linearx4|relux1|sigmoidx2) sigmoid/cross_entropy .* float64$", "^train ch3-l2-30 float64"),
    ),
    _cost_exercise(
        "log-likelihood-delta",
        "the output error of softmax with the log-likelihood cost",
        3,
        "section 'softmax'",
        "log-likelihood",
        "log_likelihood",
        "LogLikelihoodCost",
        "BP1 for the log-likelihood cost C = -ln a_y with a softmax output layer,\n"
        "    a_j = e^(z_j) / sum_k e^(z_k) (ch. 3, 'softmax'):\n\n"
        "        delta^L = dC/dz^L = a^L - y.",
        ("^grad (tanhx3|sigmoidx4) softmax/log_likelihood .* float64$",),
    ),
    _step_exercise(
        "l2-step",
        "the SGD step with L2 weight decay",
        "eq. 93",
        "l2",
        "l2",
        "l2_step",
        "ch. 3, eq. 93, 'weight decay'",
        "w -> (1 - eta lambda / n) w - (eta / m) sum_x dC_x/dw",
        "",
        ("^train ch3-l2-30 float64", "^train ch3-overfit-1000-l2 float64"),
    ),
    _step_exercise(
        "l1-step",
        "the SGD step with L1 regularisation",
        "section 'other techniques for regularization', L1",
        "l1",
        "l1",
        "l1_step",
        "ch. 3, 'L1 regularization'",
        "w -> w - (eta lambda / n) sgn(w) - (eta / m) sum_x dC_x/dw",
        "sgn(w) is the sign of each weight, and sgn(0) = 0. ",
        ("^train ch3-l2-30 with L1 float64",),
    ),
]


def lookup(name: str) -> Exercise | None:
    return next((exercise for exercise in EXERCISES if exercise.name == name), None)


def for_lesson(lesson: str) -> list[Exercise]:
    """The exercises of a lesson (by its name), for `nndl lesson` and the site's links."""
    return [exercise for exercise in EXERCISES if lesson == exercise.lesson or lesson in exercise.also]


# chapter 6's exercises build on Exercise and PORT_HEAD above, so their module is imported last
from conformance.book.exercises_conv import CONV_EXERCISES

EXERCISES += CONV_EXERCISES
