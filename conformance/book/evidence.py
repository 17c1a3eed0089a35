"""The evidence of a lesson: a check run now, in every installed backend, on the lesson's own point, in words.

Each kind of evidence a concept names (conformance.book.lessons) is measured here through the
backends' contract (their `Model`), loaded by the registry: the gradients of every array, or of the
biases (BP3) or the weights (BP4) alone; the parameters after the first SGD steps; the perceptrons'
bits; where a max-pool window with a real tie sends its gradient under each tie rule; and which
units a dropout mask silences. Every random draw is made once, in NumPy, and handed to each backend.

An `Evidence` says what was run in words ("a 784-30-10 sigmoid net, cross-entropy cost, ..."), the
figures, and what a figure means (a relative difference, against the dtype's rounding and the bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from conformance.backend.registry import BUILT_IN, REFERENCE, load_backend
from conformance.book.lessons import (
    Concept,
    Contract,
    FirstSteps,
    Gradients,
    PerceptronOutputs,
    SameMasks,
    TiedWindow,
)
from conformance.data.streams import initial_parameters
from conformance.spec.errors import BackendNotInstalledError
from conformance.spec.spec import Spec
from conformance.suite import tolerances
from conformance.suite.case_data import CaseData
from conformance.suite.gradients import check_gradients, first_batch, gradient_check_parameters
from conformance.suite.matrix import GRADIENT_TRAINING_SIZE, PERCEPTRONS, ConvGradientCase, GradientCase
from conformance.suite.perceptrons import check_perceptrons
from conformance.suite.results import backend_pairs, relative_difference
from conformance.suite.trajectories import check_trajectory


@dataclass(frozen=True)
class Evidence:
    what: str  # what was run, in words
    figures: str  # what was measured, with the numbers
    meaning: str  # what a number means, and the bound it is held to
    passed: bool
    skipped: tuple[str, ...] = ()  # backends not installed, with why

    @property
    def sentences(self) -> list[str]:
        return [part for part in (self.what, self.figures, self.meaning) if part]


def installed_backends() -> tuple[dict, tuple[str, ...]]:
    """nndl's own backends that are installed, by name, and a line for each that is not."""
    backends, skipped = {}, []
    for name in BUILT_IN:
        try:
            backend = load_backend(name)
        except BackendNotInstalledError as error:
            skipped.append(f"{name}: {error}")
            continue
        backends[backend.NAME] = backend
    return backends, tuple(skipped)


def measure(concept: Concept, mnist, seed: int = 0) -> Evidence | None:
    """Run the concept's check now, in every installed backend; None if it has none. `mnist()` gives
    MNIST, and is called only by the checks that need it."""
    evidence = concept.evidence
    if evidence is None:
        return None
    backends, skipped = installed_backends()
    if isinstance(evidence, Contract):  # load_backend has checked each one: one that breaks it is an error
        return Evidence(
            "Every installed backend loaded.", f"{', '.join(backends)} satisfy the backend contract.", "", True, skipped
        )
    if isinstance(evidence, PerceptronOutputs):
        found = _perceptrons(backends)
    elif isinstance(evidence, Gradients):
        found = _gradients(evidence, backends, mnist, seed)
    elif isinstance(evidence, FirstSteps):
        found = _first_steps(evidence, backends, mnist, seed)
    elif isinstance(evidence, TiedWindow):
        found = tied_window(backends)
    else:
        found = same_masks(evidence, backends, mnist, seed)
    return Evidence(*found, skipped)


# -- the configuration, in words ------------------------------------------------------------------

COSTS = {"quadratic": "quadratic cost", "cross_entropy": "cross-entropy cost", "log_likelihood": "log-likelihood cost"}
INITS = {"default": "weights drawn N(0, 1/n_in)", "large": "weights drawn N(0, 1) (the book's large init)"}


def describe(spec: Spec) -> str:
    """A spec's network and training in words: "a 784-30-10 sigmoid net (softmax output), cross-entropy
    cost, no regulariser, no dropout, weights drawn N(0, 1/n_in), float64"."""
    network, training = spec.network, spec.training
    layers = [_layer_words(layer) for layer in network.layers]
    regulariser = (
        "no regulariser"
        if training.regularizer == "none"
        else f"{training.regularizer.upper()}, lambda {training.lmbda:g}"
    )
    rates = sorted({layer.dropout for layer in network.layers if getattr(layer, "dropout", 0)})
    dropout = f"dropout p = {' and '.join(f'{p:g}' for p in rates)}" if rates else "no dropout"
    return (
        f"a {_shape_words(network)} net ({', '.join(layers)}), {COSTS[network.cost]}, {regulariser}, "
        f"{dropout}, {INITS.get(network.init, network.init + ' init')}, {training.dtype}"
    )


def _shape_words(network) -> str:
    inputs = network.input if isinstance(network.input, int) else "x".join(map(str, network.input))
    sizes = [str(getattr(layer, "size", None) or f"conv{layer.filters}") for layer in network.layers]
    return "-".join([str(inputs), *sizes])


def _layer_words(layer) -> str:
    if layer.type == "conv":
        ties = (
            f", ties to {'the first maximum' if layer.ties == 'first' else 'every maximum'}"
            if layer.pooling == "max"
            else ""
        )
        return f"{layer.filters} {layer.kernel}x{layer.kernel} filters, {layer.pooling} pooling {layer.pool}x{layer.pool}{ties}, {layer.activation}"
    return f"{layer.size} {layer.activation}"


def _meaning(what: str, dtype: str, bound: float) -> str:
    eps = float(np.finfo(dtype).eps)
    return (
        f"Each figure is a relative difference, ||a - b|| / ||b|| for each {what}, the largest taken; "
        f"{dtype} rounds at {eps:.1e}, and nndl's bound for this check is {bound:.0e} "
        "(conformance/suite/tolerances.py)."
    )


def _figure(value: float) -> str:
    return f"{value:.1e}" if math.isfinite(value) else str(value)


def _pairs_line(what: str, pairs: list[tuple[str, float, float]]) -> tuple[str, bool]:
    """ "what: worst difference between the backends X (bound B); pair value, ...", and whether all pass."""
    between = [(pair, value, bound) for pair, value, bound in pairs if pair.split(" vs ")[-1] in BUILT_IN]
    shown = ", ".join(f"{pair} {_figure(value)}{'' if value <= bound else ' FAIL'}" for pair, value, bound in pairs)
    passed = all(math.isfinite(value) and value <= bound for _, value, bound in pairs)
    if not between:
        return f"{what}: {shown}.", passed
    worst = max(between, key=lambda item: item[1])
    return (
        f"{what}: worst difference between the backends {_figure(worst[1])} (bound {_figure(worst[2])}); {shown}.",
        passed,
    )


# -- the checks -----------------------------------------------------------------------------------


def _perceptrons(backends) -> tuple[str, str, str, bool]:
    results = check_perceptrons(PERCEPTRONS, backends)
    shown = ", ".join(f"{r.pair} {int(r.value)}{'' if r.passed else ' FAIL'}" for r in results)
    return (
        "The NAND gate and the adder on all four pairs of input bits.",
        f"Output bits that differ: {shown}.",
        "0 means every bit agrees, with each other and with the truth table.",
        all(r.passed for r in results),
    )


def _gradients(evidence: Gradients, backends, mnist, seed) -> tuple[str, str, str, bool]:
    case = evidence.case
    spec = case.spec()
    what = f"{describe(spec)}; its mean cost's gradient on MNIST's first mini-batch of {spec.training.batch_size} (seed {seed})."
    bound = tolerances.GRADIENT[case.dtype]
    if evidence.arrays == "all":
        results = check_gradients(case, backends, mnist().training, "cpu", seed)
        pairs = [(r.pair, r.value, r.bound) for r in results if not r.not_applicable]
        figures, passed = _pairs_line("Gradients of every W and b", pairs)
        return what, figures, _meaning("array", case.dtype, bound), passed
    grads = gradients_by_backend(case, backends, mnist().training, seed)
    index = 1 if evidence.arrays == "biases" else 0
    chosen = {name: [(layer[index],) for layer in layer_grads] for name, layer_grads in grads.items()}
    pairs = [(f"{a} vs {b}", relative_difference(chosen[a], chosen[b]), bound) for a, b in backend_pairs(list(grads))]
    figures, passed = _pairs_line(
        f"The {evidence.arrays}' gradients, dC/d{'b' if index else 'W'} of every layer", pairs
    )
    return what, figures, _meaning("layer's " + ("b" if index else "W"), case.dtype, bound), passed


def gradients_by_backend(case: GradientCase | ConvGradientCase, backends: dict, training_split, seed: int) -> dict:
    """Each backend's gradient of the case's mean cost on its first mini-batch, as check_gradients takes it."""
    spec = case.spec()
    data = CaseData(spec, {"training": training_split.first(GRADIENT_TRAINING_SIZE)}, "cpu")
    params = gradient_check_parameters(backends[REFERENCE], spec, data, seed)
    x, y, masks = first_batch(spec, data.training, seed)
    n = len(data.training)
    return {name: backend.Model(spec, params).gradients(x, y, masks, n) for name, backend in backends.items()}


def _first_steps(evidence: FirstSteps, backends, mnist, seed) -> tuple[str, str, str, bool]:
    case, data = evidence.case, mnist()
    spec = case.spec()
    splits = {"training": data.training, "validation": data.validation, "test": data.test}
    results = check_trajectory(case, backends, splits, "cpu", evidence.steps, False, seed)
    what = (
        f"{describe(spec)}, eta {spec.training.eta:g}, mini-batches of {spec.training.batch_size}, "
        f"on the first {spec.data.train_size:,} training images (seed {seed})."
    )
    pairs = [(r.pair, r.value, r.bound) for r in results if not r.not_applicable]
    figures, passed = _pairs_line(f"Parameters after each of the first {evidence.steps} SGD steps", pairs)
    bound = max((bound for _, _, bound in pairs), default=0.0)
    return what, figures, _meaning("step's W and b", case.dtype, bound), passed


# -- max pooling: a window with a real tie ----------------------------------------------------------

# The tied window's entries; the 0.9s tie, and the first of them in row-major order is (0, 1).
TIED_WINDOW = np.array([[0.2, 0.9], [0.9, 0.4]])
TIE_RULES = {"first": "to the first maximum", "all": "to every maximum"}


def tied_window_spec(ties: str) -> Spec:
    """One 2x2 filter, 2x2 max pooling with the tie rule, sigmoid, then a softmax layer: the smallest net
    through which a backend's Model shows where a window's gradient goes."""
    conv = {
        "type": "conv",
        "filters": 1,
        "kernel": 2,
        "pool": 2,
        "pooling": "max",
        "ties": ties,
        "activation": "sigmoid",
    }
    layers = [conv, {"type": "dense", "size": 10, "activation": "softmax"}]
    network = {"input": [1, 28, 28], "layers": layers, "cost": "log_likelihood", "init": "default"}
    training = {"epochs": 1, "batch_size": 1, "eta": 0.1, "regularizer": "none", "lmbda": 0.0, "dtype": "float64"}
    return Spec.from_dict(
        {"name": f"tied window {ties}", "network": network, "training": training, "data": {"train_size": 1}},
        "conformance/book/evidence.py",
    )


def routed_gradient(backend, ties: str) -> np.ndarray:
    """Where `backend` sends the gradient of the tied window, as a 2x2 map over its entries, 1 for the largest.

    The input is one lit pixel, at (1, 1); the filter's entries are the window's flipped, so the
    first 2x2 window of the correlation holds TIED_WINDOW exactly. Every other entry the pixel
    reaches is in that window, so dC/dfilter[p, q] = (gradient sent to entry (1 - p, 1 - q)) x 1:
    the filter's gradient, flipped back, is the map.
    """
    spec = tied_window_spec(ties)
    (conv_w, conv_b), (dense_w, dense_b) = initial_parameters(spec.network, seed=0)
    conv_w = TIED_WINDOW[::-1, ::-1].reshape(conv_w.shape).copy()
    params = [(conv_w, np.zeros_like(conv_b)), (dense_w, dense_b)]
    x = np.zeros((1, 1, 28, 28))
    x[0, 0, 1, 1] = 1.0
    y = np.eye(10)[[3]]
    grads = backend.Model(spec, params).gradients(x, y, [None, None], 1)
    routed = np.abs(np.asarray(grads[0][0], dtype=np.float64).reshape(2, 2)[::-1, ::-1])
    return routed / routed.max()


def tied_window(backends) -> tuple[str, str, str, bool]:
    expected = {"first": np.array([[0.0, 1.0], [0.0, 0.0]]), "all": np.array([[0.0, 1.0], [1.0, 0.0]])}
    lines, passed = [], True
    for ties, rule in TIE_RULES.items():
        maps = {name: routed_gradient(backend, ties) for name, backend in backends.items()}
        agree = [name for name, found in maps.items() if np.allclose(found, expected[ties], rtol=0, atol=1e-12)]
        passed &= len(agree) == len(maps)
        shown = "; ".join(f"{name} {_map_words(found)}" for name, found in maps.items())
        lines.append(f"ties = '{ties}' ({rule}): {shown}.")
    return (
        "A max-pool window [[0.2, 0.9], [0.9, 0.4]], whose two 0.9s tie, through a one-filter net in every backend.",
        " ".join(lines),
        (
            "Each map is the share of the window's gradient that reached each entry (row by row); 'first' must "
            "send all of it to the first 0.9, in row-major order, and 'all' the full gradient to both."
        ),
        passed,
    )


def _map_words(found: np.ndarray) -> str:
    rows = ", ".join("[" + ", ".join(f"{value:g}" for value in row) + "]" for row in np.round(found, 12))
    return f"[{rows}]"


# -- dropout: the same mask in every backend --------------------------------------------------------


def same_masks(evidence: SameMasks, backends, mnist, seed) -> tuple[str, str, str, bool]:
    """One example through the dropout net: in every backend, a unit the NumPy-drawn mask drops sends no
    gradient to the weights it feeds, and every unit it keeps does (where its input is not 0)."""
    case = evidence.case
    spec = case.spec()
    data = CaseData(spec, {"training": mnist().training.first(GRADIENT_TRAINING_SIZE)}, "cpu")
    params = gradient_check_parameters(backends[REFERENCE], spec, data, seed)
    x, y, masks = first_batch(spec, data.training, seed)
    x, y, masks = x[:1], y[:1], [None if mask is None else mask[:1] for mask in masks]
    layer_inputs = _layer_inputs(backends[REFERENCE], spec, params, x, masks)
    counts, passed = [], True
    for name, backend in backends.items():
        grads = backend.Model(spec, params).gradients(x, y, masks, len(data.training))
        for layer, ((grad_w, _), mask, inputs) in enumerate(zip(grads, masks, layer_inputs)):
            if mask is None:
                continue
            live = np.asarray(inputs)[0] != 0  # an input of 0 sends no gradient, kept or not
            silent = np.all(np.asarray(grad_w) == 0, axis=0)
            dropped = ~np.asarray(mask)[0].astype(bool)
            passed &= bool(np.array_equal(silent[live], dropped[live]))
            if name == REFERENCE:
                counts.append(
                    f"layer {layer + 1}'s input: {int(dropped[live].sum())} of {int(live.sum())} live units dropped"
                )
    return (
        f"{describe(spec)}; one MNIST example, with the dropout masks drawn once in NumPy (seed {seed}).",
        (
            f"The mask: {'; '.join(counts)}. In {', '.join(backends)}, the weight-gradient columns that are "
            f"exactly 0 are {'exactly the dropped units' if passed else 'NOT the dropped units'}."
        ),
        (
            "A dropped unit feeds nothing forward, so the weights it feeds get no gradient: the same columns of "
            "zeros in every backend show the same mask was used."
        ),
        passed,
    )


def _layer_inputs(reference, spec, params, x, masks) -> list[np.ndarray]:
    """Each dense layer's input for these examples (the previous layer's activation), from the reference."""
    network = reference.network.Network(spec.network)
    _, activations, _ = reference.network.forward(network, params, x, masks)
    return [x.reshape(len(x), -1), *activations[:-1]]
