"""Checkpoints every backend can read: the canonical NumPy layout plus the spec.

Two formats, chosen by the file's extension:
- `.npz` (nndl's own): arrays `W0, b0, W1, b1, ...` (W (n_out, n_in), b (n_out,)) and a JSON
  header with the format, the spec, the backend that wrote it and anything else worth keeping.
- `.json` (the book's network2 format): {"sizes", "weights", "biases", "cost"} with nested lists
  and biases as column vectors; for sigmoid networks with the quadratic or cross-entropy cost.

Writes are atomic (a temporary file beside the target, then a rename) and never replace a
file the user already has unless asked to.
"""

from __future__ import annotations

import itertools
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from conformance.data.streams import Parameters
from conformance.spec.errors import CheckpointError, SpecError
from conformance.spec.files import write_atomically
from conformance.spec.parts import Network
from conformance.spec.spec import Spec

FORMAT = "nndl-checkpoint"
VERSION = 1
NETWORK2_COST_NAMES = {"quadratic": "QuadraticCost", "cross_entropy": "CrossEntropyCost"}


@dataclass(frozen=True)
class Checkpoint:
    params: Parameters
    spec: Spec | None  # None for the book's format, which does not carry one
    metadata: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path, spec: Spec, params: Parameters, metadata: dict | None = None, overwrite: bool = False
) -> Path:
    """Write params (and the spec) to `path`, in the format its extension names."""
    path = Path(path)
    check_savable(path, spec)
    check_parameters(spec.network, params, "the parameters to save")
    if path.suffix == ".json":
        text = json.dumps(_network2_tree(spec, params))
        write_atomically(path, lambda f: f.write(text.encode()), overwrite)
    else:
        header = {**(metadata or {}), "format": FORMAT, "version": VERSION, "spec": spec.to_dict()}
        arrays = {f"{kind}{i}": array for i, layer in enumerate(params) for kind, array in zip("Wb", layer)}
        write_atomically(path, lambda f: np.savez(f, header=np.array(json.dumps(header)), **arrays), overwrite)
    return path


def check_savable(path: Path, spec: Spec) -> None:
    """Raise CheckpointError unless `path` names a format that can hold this network.

    Called before training too, so that a bad --save fails at once, not after the last epoch.
    """
    if path.suffix not in (".npz", ".json"):
        raise CheckpointError(f"{path}: a checkpoint's name must end in .npz (nndl's format) or .json (the book's)")
    network = spec.network
    hidden_and_output = {layer.activation for layer in network.layers}
    dense_only = all(layer.type == "dense" for layer in network.layers)
    if path.suffix == ".json" and (
        not dense_only
        or hidden_and_output != {"sigmoid"}
        or network.cost not in NETWORK2_COST_NAMES
        or network.has_dropout
    ):
        raise CheckpointError(
            f"{path}: the book's network2 JSON format holds dense sigmoid networks with the quadratic or "
            "cross-entropy cost and no dropout; save as .npz instead"
        )


def load_checkpoint(path) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    if path.suffix == ".json":
        return _load_network2(path)
    return _load_npz(path)


def check_parameters(network: Network, params: Parameters, source: str) -> None:
    """Raise CheckpointError unless params have exactly the network's canonical shapes."""
    expected = network.parameter_shapes
    if len(params) != len(expected):
        raise CheckpointError(
            f"{source} has {len(params)} layers, but the network has {len(expected)} (sizes {network.layout})"
        )
    for i, ((w, b), (w_shape, b_shape)) in enumerate(zip(params, expected)):
        for name, array, shape in (("W", w, w_shape), ("b", b, b_shape)):
            if tuple(np.shape(array)) != shape:
                raise CheckpointError(
                    f"{source}: layer {i} {name} has shape {tuple(np.shape(array))}, the network needs {shape}"
                )


def _load_npz(path: Path) -> Checkpoint:
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive["header"]))
            arrays = {name: archive[name] for name in archive.files if name != "header"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not an nndl checkpoint ({error})") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not an nndl checkpoint (its header is not a JSON object)")
    if header.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an nndl checkpoint (format {header.get('format')!r})")
    if header.get("version") != VERSION:
        raise CheckpointError(
            f"{path} is checkpoint version {header.get('version')}; this nndl reads version {VERSION}"
        )
    try:
        spec = Spec.from_dict(header["spec"], f"the spec inside {path}")
    except (SpecError, KeyError) as error:
        raise CheckpointError(f"{path}: its spec is unreadable: {error}") from None
    n_layers = len(arrays) // 2
    try:
        params = [(arrays[f"W{i}"], arrays[f"b{i}"]) for i in range(n_layers)]
    except KeyError as missing:
        raise CheckpointError(f"{path}: array {missing} is missing") from None
    check_parameters(spec.network, params, str(path))
    metadata = {key: value for key, value in header.items() if key not in ("format", "version", "spec")}
    return Checkpoint(params=params, spec=spec, metadata=metadata)


def _network2_tree(spec: Spec, params: Parameters) -> dict[str, Any]:
    return {
        "sizes": list(spec.network.sizes),
        "weights": [np.asarray(w, dtype=np.float64).tolist() for w, _ in params],
        "biases": [np.asarray(b, dtype=np.float64).reshape(-1, 1).tolist() for _, b in params],
        "cost": NETWORK2_COST_NAMES[spec.network.cost],
    }


def _load_network2(path: Path) -> Checkpoint:
    try:
        tree = json.loads(path.read_text())
        sizes, weights, biases, cost = tree["sizes"], tree["weights"], tree["biases"], tree["cost"]
        params = [
            (np.array(w, dtype=np.float64), np.array(b, dtype=np.float64).reshape(-1)) for w, b in zip(weights, biases)
        ]
        expected = [((n_out, n_in), (n_out,)) for n_in, n_out in itertools.pairwise(sizes)]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path} is not a network2 JSON file ({type(error).__name__}: {error})") from None
    if len(weights) != len(expected) or len(biases) != len(expected):
        raise CheckpointError(
            f"{path}: sizes {sizes} need {len(expected)} weight and bias arrays, found {len(weights)} and {len(biases)}"
        )
    for i, ((w, b), (w_shape, b_shape)) in enumerate(zip(params, expected)):
        if w.shape != w_shape or b.shape != b_shape:
            raise CheckpointError(
                f"{path}: layer {i} has W {w.shape} and b {b.shape}; sizes {sizes} need {w_shape} and {b_shape}"
            )
    costs = {name: key for key, name in NETWORK2_COST_NAMES.items()}
    return Checkpoint(params=params, spec=None, metadata={"sizes": sizes, "cost": costs.get(cost, cost)})
