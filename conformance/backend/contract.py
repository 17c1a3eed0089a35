"""The backend contract, as code: what a backend provides, and the check that it does.

A backend is a module: its module-level names satisfy `Backend`, and its `Model` class satisfies
`Model`. nndl's own three (reference/, torch_impl/, jax_impl/) declare them in their package's
__init__.py, and so can a backend from elsewhere (conformance/backend/registry.py says how to register
one). The shared epoch loop (conformance/run/training.py), the conformance checks, the bench and
`--backend auto` use nothing else of a backend: the data in its arrays, evaluation in chunks and
the search for the step where a run diverged are written once, in conformance/run/training.py.

`Backend` and `Model` are the one list of what is required: `check_backend` reads the names and
their types from these two classes, so a name added to them is checked for every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, get_args, get_origin, get_type_hints

import numpy as np

from conformance.data.mnist import Split
from conformance.data.streams import EpochPlan, Parameters
from conformance.spec.errors import BackendContractError
from conformance.spec.parts import Network
from conformance.spec.spec import Spec


class Model(Protocol):
    """A spec's network and its parameters in the backend's own arrays, on one device.

    `Model(spec, params, device)` takes params in the canonical NumPy layout (W and b per layer,
    their shapes Network.parameter_shapes: (n_out, n_in) and (n_out,) for a dense layer) and
    `device` as --device names it ("cpu", "cuda", ...). The parameters are the model's whole state:
    a run resumed from them (conformance/run/resume.py) goes on bitwise as if it had not stopped.
    """

    def __init__(self, spec: Spec, params: Parameters, device: str = "cpu") -> None: ...

    def train_epoch(self, data: Any, plan: EpochPlan, eta: float, on_step: Callable[[], None] | None = None) -> None:
        """One epoch in the order and with the dropout masks of `plan`, on a Dataset of the backend's arrays.

        A plan of one mini-batch is one SGD step: that is how conformance compares trajectories step
        by step, and how conformance.run.training names the step where a run diverged. `on_step()`
        follows each step (a backend that compiles the whole epoch calls it once per step when the
        epoch returns).
        """

    def gradients(self, x: np.ndarray, y: np.ndarray, masks: list, n: int) -> Parameters:
        """The gradient of a batch's regularised mean cost (lambda / n), for NumPy inputs, as NumPy
        (dC/dW, dC/db) pairs in the canonical layout."""

    def evaluate(self, x: Any, labels: Any, y: Any) -> tuple[int, float]:
        """(correct count, sum of the examples' costs) on part of a Dataset (conformance.run.training
        evaluates a whole one in chunks and adds the regulariser's term)."""

    def predict(self, x: Any) -> np.ndarray:
        """The class the network puts each example of part of a Dataset in, the index of its highest
        output (ch. 1; a tie goes to the first index), as a NumPy array of integers."""

    def penalty(self, n: int) -> float:
        """The regulariser's term of the cost for a data set of n examples."""

    def parameters(self) -> Parameters:
        """The parameters in the canonical layout, as NumPy arrays (copies)."""

    def load(self, params: Parameters) -> None:
        """Set the parameters from the canonical layout."""


class Backend(Protocol):
    """The module-level names of a backend."""

    NAME: str  # what --backend and --backends call it: "numpy", "torch", "jax"
    FRAMEWORKS: tuple[str, ...]  # the distributions whose versions can change its results or its speed
    DEVICES: tuple[str, ...]  # the --device names it runs on
    COMPILES: bool  # whether it compiles a network's epoch on the first call (the bench times that apart)
    Model: type[Model]

    def resolve_device(self, name: str) -> Any:
        """The backend's own device for --device `name`, or an NndlError that says what to do."""

    def synchronize(self, device: Any, results: Any) -> None:
        """Return once `results` (the backend's arrays, in any nesting) are computed on `device` (a
        resolved device): the bench times the work, not its queueing on an asynchronous device."""

    def asarray(self, array: np.ndarray, device: str = "cpu") -> Any:
        """A NumPy array as the backend's own array on `device`, with its dtype (conformance.run.training's
        prepare_data makes a Dataset of them)."""

    def bench_rows(self, spec: Spec, training_split: Split, device: str) -> list[BenchRow]:
        """Its rows for `nndl bench`, with their own copy of the training data on `device`: its Model's
        row (kind BACKEND_ROW), then any baselines, each with the ratio it is held to."""


class NativeStreams(Protocol):
    """Optional, as `NativeStreams`: the framework's own generator, for `--rng native`.

    Never used by conformance. Its plans only need to be understood by the same backend's Model.
    """

    def __init__(self, device: Any) -> None: ...

    def initial_parameters(self, network: Network, seed: int) -> Parameters: ...

    def epoch_plan(self, spec: Spec, n_examples: int, epoch: int, seed: int) -> Any: ...


class Perceptrons(Protocol):
    """Optional, as the module `perceptron`: chapter 1's perceptrons, forward only, on the backend's own
    arrays (made by `asarray` from float bits). Conformance compares its NAND gate and adder with the
    reference's and with their truth tables (conformance.suite.perceptrons.check_perceptrons)."""

    def perceptron(self, w: Any, b: float, x: Any) -> Any:
        """1 where w . x + b > 0, else 0, for each row of x (ch. 1, eq. 2)."""

    def nand(self, x1: Any, x2: Any) -> Any:
        """x1 NAND x2, bit by bit, from one perceptron."""

    def add_bits(self, x1: Any, x2: Any) -> tuple[Any, Any]:
        """(sum, carry) of x1 + x2, bit by bit, from NAND perceptrons."""


class Ensemble(Protocol):
    """Optional, as `Ensemble`: k members of one spec trained as one computation (`nndl ensemble`).

    `Ensemble(spec, members, device)` takes each member's parameters in the canonical layout. Member
    i must train exactly as `Model(spec, members[i], device)` would through the same plans and eta:
    conformance checks it. A backend without one trains the members one after another.
    """

    def __init__(self, spec: Spec, members: list[Parameters], device: str = "cpu") -> None: ...

    def train_epoch(self, data: Any, plans: list[EpochPlan], etas: list[float]) -> None:
        """One epoch of every member, member i in the order and with the dropout masks of plans[i] and
        with learning rate etas[i] (0 leaves a member as it is: one that stopped early)."""

    def parameters(self) -> list[Parameters]:
        """Each member's parameters in the canonical layout, as NumPy arrays (copies)."""


class NearTies(Protocol):
    """Optional, as the module `ties`; the reference's (reference/ties.py): where its float32 max-pool
    windows' two largest entries are a few ulps apart, and its gradient with such a window's gradient
    sent to the runner-up. `nndl conform --explain` names a tie flip with it; without it, it names none."""

    NEAR_TIE_ULPS: int

    def near_ties(self, spec: Spec, params: Parameters, x: np.ndarray, masks: list) -> list:
        """The max-pool windows of the forward pass on a batch whose two largest entries are near."""

    def gradients_with_swapped(
        self, spec: Spec, params: Parameters, x: np.ndarray, y: np.ndarray, masks: list, n: int, ties: list
    ) -> Parameters:
        """The gradient of the batch's regularised mean cost with each of `ties` decided the other way."""


OPTIONAL = {
    "NativeStreams": NativeStreams,
    "Ensemble": Ensemble,
    "perceptron": Perceptrons,
    "ties": NearTies,
}  # optional module-level name -> the protocol it satisfies if present
# optional module-level functions -> what they return: every record's "ran on" (conformance.backend.environment)
OPTIONAL_FUNCTIONS = {
    "threads": "a dict of the CPU threads the framework computes with: 'summary' (a few words) and 'threads'",
}


# -- the bench's rows -------------------------------------------------------------------------

# A row starts from given parameters and returns (run one epoch from a plan, its parameters now).
StartRow = Callable[[Parameters], tuple[Callable[[EpochPlan], None], Callable[[], Parameters]]]

# What a row is, which decides how the bench treats it.
BACKEND_ROW = "backend"  # the backend's Model: the row that stands for the backend in the fastest line
BARE_LOOP = "bare loop"  # the same math with nothing around it; skipped where bench.bare_loop_reason says
PER_EXAMPLE = "per-example"  # the book's per-example algorithm; left out by --no-per-example
ENSEMBLE_ROW = "ensemble"  # k members trained as one by the backend's Ensemble: `nndl bench --members K`


@dataclass(frozen=True)
class Ratio:
    """The ratio of two rows' epoch times, printed with its target after the row that declares it."""

    label: str  # "reference / bare loop"
    numerator: str  # a row's name
    denominator: str  # a row's name
    form: str  # how to print it: ".2f"
    target: str  # "at most 1.3x"


@dataclass(frozen=True)
class BenchRow:
    name: str  # "numpy reference", "numpy bare loop"
    start: StartRow
    kind: str  # BACKEND_ROW, BARE_LOOP, PER_EXAMPLE or ENSEMBLE_ROW
    ratio: Ratio | None = None


# -- the check --------------------------------------------------------------------------------


def check_backend(backend, origin: str) -> None:
    """Raise BackendContractError, one line naming every name `backend` lacks or has of the wrong
    type, unless it satisfies the contract. `origin` names it in the message (its module path)."""
    problems = contract_problems(backend)
    if problems:
        raise BackendContractError(f"{origin} breaks the backend contract: {'; '.join(problems)}")


def contract_problems(backend) -> list[str]:
    """What `backend` lacks of `Backend`, its Model of `Model`, and an optional name of its protocol."""
    problems = _problems(backend, Backend, "")
    if isinstance(getattr(backend, "Model", None), type):
        problems += _problems(backend.Model, Model, "Model.")
    for name, protocol in OPTIONAL.items():
        if hasattr(backend, name):
            problems += _problems(getattr(backend, name), protocol, f"{name}.")
    for name in OPTIONAL_FUNCTIONS:
        if hasattr(backend, name) and not callable(getattr(backend, name)):
            problems.append(f"its {name} is not a function")
    return problems


def required_names(protocol: type) -> list[str]:
    """The names a protocol requires: its annotated attributes, then its methods (__init__ aside)."""
    methods = [name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")]
    return [*protocol.__annotations__, *methods]


def _problems(owner, protocol: type, prefix: str) -> list[str]:
    types = get_type_hints(protocol)
    problems = []
    for name in required_names(protocol):
        if not hasattr(owner, name):
            problems.append(f"it has no {prefix}{name}")
        elif name in types and not _is_a(getattr(owner, name), types[name]):
            problems.append(f"its {prefix}{name} is {getattr(owner, name)!r}, not {_spelled(types[name])}")
        elif name not in types and not callable(getattr(owner, name)):
            problems.append(f"its {prefix}{name} is not a function")
    return problems


def _is_a(value, annotation) -> bool:
    """isinstance for the annotations `Backend` uses: a plain type, tuple[T, ...] and type[...]."""
    if get_origin(annotation) is tuple:
        return isinstance(value, tuple) and all(isinstance(item, get_args(annotation)[0]) for item in value)
    if get_origin(annotation) is type:
        return isinstance(value, type)
    return isinstance(value, annotation)


def _spelled(annotation) -> str:
    if get_origin(annotation) is tuple:
        return f"a tuple of {get_args(annotation)[0].__name__}"
    if get_origin(annotation) is type:
        return "a class"
    return f"a {annotation.__name__}"


# -- what a backend hands back ----------------------------------------------------------------


def check_layout(params, shapes, backend: str, source: str) -> None:
    """Raise BackendContractError unless `params`, which the `backend`'s `source` ("Model.gradients")
    gave, are NumPy (W, b) pairs of `shapes` (Network.parameter_shapes): the canonical layout."""
    problem = _layout_problem(params, shapes)
    if problem:
        raise BackendContractError(f"the {backend} backend breaks the backend contract: its {source} gave {problem}")


def _layout_problem(params, shapes) -> str | None:
    if not isinstance(params, (list, tuple)):
        return f"a {type(params).__name__}, expected a list of (W, b) pairs"
    if len(params) != len(shapes):
        return f"{len(params)} layers, expected {len(shapes)}"
    for layer, (pair, expected) in enumerate(zip(params, shapes)):
        if len(pair) != 2:
            return f"{len(pair)} arrays for layer {layer}, expected (W, b)"
        for array_name, array, shape in zip(("W", "b"), pair, expected):
            if not isinstance(array, np.ndarray):
                return f"a {type(array).__name__} as layer {layer} {array_name}, expected a NumPy array"
            if array.shape != shape:
                return f"layer {layer} {array_name} of shape {array.shape}, expected {shape}"
    return None
