"""The backend contract, as code: what a backend provides, and the check that it does.

A backend is a module. Two of its names are required: `NAME`, and a class `Model` whose five
methods (`__init__`, `train_epoch`, `gradients`, `parameters`, `load`) satisfy `Model` below.
Everything else is optional, each name with a documented default (`BackendExtras`, `ModelExtras`):
a port that leaves one out pays in n/a rows, not in a refusal. nndl's own three (reference/,
torch_impl/, jax_impl/) declare every name in their package's __init__.py, and so can a backend
from elsewhere (conformance/backend/registry.py says how to register one).

A port that runs only part of what the spec offers (sigmoid nets without dropout, say) says so
with an optional `supports(spec)`, or by raising `Unsupported(reason)` from its Model: that
backend's pairs are then n/a with the reason, and the other pairs still run. NotImplementedError
is not a decline: a function left unwritten fails its checks.

The shared epoch loop (conformance/run/training.py), the conformance checks, the bench and
`--backend auto` use nothing else of a backend. `check_backend` reads the names and their types
from the protocol classes here, so a name added to them is checked for every backend.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, get_args, get_origin, get_type_hints

import numpy as np

from conformance.data.mnist import Split
from conformance.data.streams import EpochPlan, Parameters
from conformance.spec.errors import BackendContractError, NndlError, PortError
from conformance.spec.parts import Network
from conformance.spec.spec import Spec

CONTRACT_VERSION = 1  # a port may declare the version it was written for; nndl refuses another one


class Unsupported(Exception):
    """Raised by a port's Model, in any method, for a configuration it does not run: its pairs in that
    configuration are n/a, with `str(error)` as the reason, and the other pairs still run."""


class Model(Protocol):
    """A spec's network and its parameters in the backend's own arrays, on one device (required).

    `Model(spec, params, device)` takes params in the canonical NumPy layout (W and b per layer,
    their shapes Network.parameter_shapes: (n_out, n_in) and (n_out,) for a dense layer) and
    `device` as --device names it ("cpu", "cuda", ...). The parameters are the model's whole state:
    a run resumed from them (conformance/run/resume.py) goes on bitwise as if it had not stopped.

    The data a Model trains on is a `Dataset` (conformance/run/training.py) of three fields, each the
    backend's own array made by its `asarray` (NumPy arrays, for a port without one):
    - `x`: the inputs, (N, 784) for a dense net and (N, 1, 28, 28) for a conv net, in the training dtype;
    - `labels`: the digits, (N,) integers;
    - `y`: the desired outputs y(x), (N, 10) one-hot, in the training dtype.
    An epoch's randomness is an `EpochPlan` (conformance/data/streams.py), drawn by nndl from the seed:
    - `order`: the indices into the Dataset in the order the epoch visits them; the mini-batches are
      consecutive slices of it, `spec.training.batch_size` long (the last one may be shorter);
    - `masks`: per layer, None (no dropout) or a (len(order), ...) array of 0/1 keep-masks for that
      layer's input, row k for the example at order[k]; a kept unit is scaled by 1 / (1 - p).
    """

    def __init__(self, spec: Spec, params: Parameters, device: str = "cpu") -> None: ...

    def train_epoch(self, data: Any, plan: EpochPlan, eta: float, on_step: Callable[[], None] | None = None) -> None:
        """One epoch of SGD in the order and with the dropout masks of `plan`, on a Dataset.

        A plan of one mini-batch is one SGD step: that is how conformance compares trajectories step
        by step, and how conformance.run.training names the step where a run diverged. `on_step()`
        follows each step (a backend that compiles the whole epoch calls it once per step when the
        epoch returns).
        """

    def gradients(self, x: np.ndarray, y: np.ndarray, masks: list, n: int) -> Parameters:
        """The gradient of a batch's mean cost plus the regulariser's term, which conformance compares.

        x and y are NumPy float64 (m, ...) inputs and one-hot outputs, `masks` one per layer (None, or
        the batch's rows of an EpochPlan's mask), and `n` the size of the whole training set, the n of
        the regulariser's lambda / n (not the batch's m). Returns NumPy (dC/dW, dC/db) pairs in the
        canonical layout.
        """

    def parameters(self) -> Parameters:
        """The parameters in the canonical layout, as NumPy arrays (copies): what every check compares."""

    def load(self, params: Parameters) -> None:
        """Set the parameters from the canonical layout: how a run resumes, and how checks restart a model."""


class ModelExtras(Protocol):
    """A Model's optional methods, and what leaving each out costs."""

    def evaluate(self, x: Any, labels: Any, y: Any) -> tuple[int, float]:
        """(correct count, sum of the examples' costs) on part of a Dataset, for the correct counts.

        Without it, conformance's correct counts are n/a, and `nndl train` and `evaluate` refuse the
        backend (they report accuracy). conformance.run.training evaluates a whole Dataset in chunks
        and adds the regulariser's term.
        """

    def predict(self, x: Any) -> np.ndarray:
        """The class of each example of part of a Dataset, the index of its highest output (ch. 1; a tie
        goes to the first index), as NumPy integers. Without it, `nndl ensemble` refuses the backend."""

    def penalty(self, n: int) -> float:
        """The regulariser's term of the cost for a data set of n examples. Default: computed in NumPy from
        `parameters()` (conformance.run.training.penalty_of)."""


class Backend(Protocol):
    """The module-level names every backend has (required)."""

    NAME: str  # what --backends and the report call it: "numpy", "torch", "jax", "learner"
    Model: type[Model]


class BackendExtras(Protocol):
    """The optional module-level names, each with the default a backend that leaves it out gets
    (DEFAULTS), and what the default costs."""

    CONTRACT_VERSION: int  # the contract's version the port was written for (default: this one)
    FRAMEWORKS: tuple[str, ...]  # the distributions whose versions can change its results (default: none)
    DEVICES: tuple[str, ...]  # the --device names it runs on (default: cpu)
    COMPILES: bool  # whether it compiles a network's epoch on its first call (default: no)

    def supports(self, spec: Spec) -> str | None:
        """None if the backend runs `spec`, else why not in a few words: its pairs are then n/a with the
        reason. Default: it runs every spec (and may still raise Unsupported from its Model)."""

    def resolve_device(self, name: str) -> Any:
        """The backend's own device for --device `name`, or an NndlError that says what to do. Default:
        the name itself if it is one of DEVICES."""

    def synchronize(self, device: Any, results: Any) -> None:
        """Return once `results` (the backend's arrays, in any nesting) are computed on `device`: the bench
        times the work, not its queueing on an asynchronous device. Default: return at once."""

    def asarray(self, array: np.ndarray, device: str = "cpu") -> Any:
        """A NumPy array as the backend's own array on `device`, with its dtype (conformance.run.training's
        prepare_data makes a Dataset of them). Default: the NumPy array itself."""

    def bench_rows(self, spec: Spec, training_split: Split, device: str) -> list[BenchRow]:
        """Its rows for `nndl bench`, with their own copy of the training data on `device`: its Model's
        row (kind BACKEND_ROW), then any baselines, each with the ratio it is held to. Default: its
        Model's row alone (conformance.speed.bench.model_row)."""


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


class ConvSlips(Protocol):
    """Optional, as the module `conv_slips`; the reference's (reference/conv_slips.py): its gradient with one
    known slip made in backprop through its conv-pool layers. `nndl conform --explain` names the slip that
    gives a port's gradient (conformance/suite/explain_conv.py); without it, it names the part only."""

    SLIPS: tuple

    def gradients_with_slip(
        self, spec: Spec, params: Parameters, x: np.ndarray, y: np.ndarray, masks: list, n: int, slip: str
    ) -> Parameters:
        """The gradient of the batch's regularised mean cost with `slip`, one of SLIPS, made."""


OPTIONAL = {
    "NativeStreams": NativeStreams,
    "Ensemble": Ensemble,
    "perceptron": Perceptrons,
    "ties": NearTies,
    "conv_slips": ConvSlips,
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
    declared = getattr(backend, "CONTRACT_VERSION", CONTRACT_VERSION)
    if declared != CONTRACT_VERSION:
        raise BackendContractError(
            f"{origin} was written for version {declared} of the backend contract, and this nndl speaks version "
            f"{CONTRACT_VERSION}: port it to version {CONTRACT_VERSION} (conformance/backend/contract.py)"
        )


def contract_problems(backend) -> list[str]:
    """What `backend` lacks of `Backend`, its Model of `Model`; an optional name it has of the wrong type."""
    problems = _problems(backend, Backend, "") + _problems(backend, BackendExtras, "", required=False)
    if isinstance(getattr(backend, "Model", None), type):
        problems += _problems(backend.Model, Model, "Model.")
        problems += _problems(backend.Model, ModelExtras, "Model.", required=False)
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


PURPOSES = {  # what a required name that is not a method is for (a method's is its docstring's first line)
    "NAME": "what --backends and the report call the backend",
    "Model": "the class that holds a network's parameters and trains it",
}


def purpose(protocol: type, name: str) -> str:
    """What `name` of `protocol` is for, in a few words: its docstring's first line, or PURPOSES."""
    member = vars(protocol).get(name)
    if callable(member) and inspect.getdoc(member):
        first = inspect.getdoc(member).split("\n")[0].rstrip(".")
        return first[0].lower() + first[1:]
    return PURPOSES.get(name, "")


def _problems(owner, protocol: type, prefix: str, required: bool = True) -> list[str]:
    types = get_type_hints(protocol)
    problems = []
    for name in required_names(protocol):
        if not hasattr(owner, name):
            if required:
                why = purpose(protocol, name)
                problems.append(f"it has no {prefix}{name}" + (f" ({why})" if why else ""))
        elif name in types and not _is_a(getattr(owner, name), types[name]):
            problems.append(f"its {prefix}{name} is {getattr(owner, name)!r}, not {_spelled(types[name])}")
        elif name not in types and not callable(getattr(owner, name)):
            problems.append(f"its {prefix}{name} is not a function")
    return problems


def require_model_method(backend, method: str, why: str) -> None:
    """Refuse, in one line, a backend whose Model leaves out optional `method` that a command needs (`why`)."""
    if not hasattr(backend.Model, method):
        raise BackendContractError(
            f"the {backend.NAME} backend's Model has no {method}: optional in the backend contract, but {why}"
        )


# -- the defaults of the optional names -------------------------------------------------------


def _runs_on_its_devices(backend) -> Callable[[str], str]:
    def resolve_device(name: str) -> str:
        if name not in backend.DEVICES:
            raise NndlError(f"the {backend.NAME} backend runs on {', '.join(backend.DEVICES)} only, not on {name}")
        return name

    return resolve_device


def _no_wait(device, results) -> None:
    """An array computed by NumPy is computed when the call returns: nothing to wait for."""


def _the_numpy_array(array: np.ndarray, device: str = "cpu") -> np.ndarray:
    return array


DEFAULTS = {  # optional module-level name -> the backend's default for it, made from the backend
    "CONTRACT_VERSION": lambda backend: CONTRACT_VERSION,
    "FRAMEWORKS": lambda backend: (),
    "DEVICES": lambda backend: ("cpu",),
    "COMPILES": lambda backend: False,
    "supports": lambda backend: lambda spec: None,
    "resolve_device": _runs_on_its_devices,
    "synchronize": lambda backend: _no_wait,
    "asarray": lambda backend: _the_numpy_array,
}  # bench_rows' default needs a training loop: conformance.speed.bench derives it from the Model


class WithDefaults:
    """A backend module seen through the contract: its own names, and DEFAULTS' for those it leaves out."""

    def __init__(self, module):
        self.module = module

    def __getattr__(self, name: str):
        if hasattr(self.module, name) or name not in DEFAULTS:
            return getattr(self.module, name)
        return DEFAULTS[name](self)

    def __repr__(self) -> str:
        return f"<backend {self.module.__name__}, with the contract's defaults>"


def with_defaults(module):
    """`module` itself if it declares every optional name with a default, else seen through WithDefaults."""
    return module if all(hasattr(module, name) for name in DEFAULTS) else WithDefaults(module)


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
    """Raise PortError unless `params`, which the `backend`'s `source` ("Model.gradients")
    gave, are NumPy (W, b) pairs of `shapes` (Network.parameter_shapes): the canonical layout."""
    problem = _layout_problem(params, shapes)
    if problem:
        raise PortError(backend, source, f"gave {problem}, which breaks the backend contract")


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
