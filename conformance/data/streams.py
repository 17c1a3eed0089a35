"""The shared random streams: every draw that conformance compares, made once, in NumPy.

From one integer seed come three independent streams, each keyed by what it is for, so that
turning dropout on does not change the initial weights and epoch k can be drawn without
drawing epochs 1..k-1 first:

- the initial parameters, in the canonical layout (W (n_out, n_in), b (n_out,)), float64;
- each epoch's order of the training examples;
- each epoch's dropout masks, one row per example in that epoch's order.

A fourth stream is the reference's alone: the directions in which conformance moves its
parameters by one ulp after every step, to measure its own sensitivity to rounding in float32
(conformance.suite.trajectories.rounding_sensitivity). No backend sees it.

Every backend receives these as NumPy arrays; none of them draws for itself on the
conformance path. PCG64 seeded through a SeedSequence gives the same bits on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from conformance.spec.parts import Network
from conformance.spec.spec import Spec

INIT_STREAM, ORDER_STREAM, DROPOUT_STREAM, DITHER_STREAM = 0, 1, 2, 3
MASK_CHUNK_DRAWS = 1 << 22  # uniforms drawn at once for a dropout mask: 32 MB of float64

Parameters = list[tuple[np.ndarray, np.ndarray]]  # [(W, b), ...] layer by layer


def _generator(seed: int, stream: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, stream, *key])))


def initial_parameters(network: Network, seed: int) -> Parameters:
    """Draw the starting parameters: biases of every layer first, then weights (the book's order).

    `large` (network.py): W ~ N(0, 1) and b ~ N(0, 1).
    `default` (network2.py): W ~ N(0, 1/n_in), so that z starts out near the sigmoid's slope,
    and b ~ N(0, 1).
    `network3` (chapter 6): W ~ N(0, 1/n_out) with network3's n_out, b ~ N(0, 1), and a softmax
    output layer at 0 (its draws are made, and dropped, so that the other layers' are the same).
    """
    rng = _generator(seed, INIT_STREAM)
    shapes = network.parameter_shapes
    biases = [rng.standard_normal(b_shape) for _, b_shape in shapes]
    weights = [rng.standard_normal(w_shape) for w_shape, _ in shapes]
    weights = [w if fan is None else w / np.sqrt(fan) for w, fan in zip(weights, network.init_fans)]
    return [
        (np.zeros_like(w), np.zeros_like(b)) if zero else (w, b)
        for w, b, zero in zip(weights, biases, network.starts_at_zero)
    ]


def epoch_order(n_examples: int, epoch: int, seed: int, shuffle: bool = True) -> np.ndarray:
    """The order in which epoch `epoch` (1 for the first) visits the training examples."""
    if not shuffle:
        return np.arange(n_examples)
    return _generator(seed, ORDER_STREAM, epoch).permutation(n_examples)


def dropout_masks(network: Network, n_examples: int, epoch: int, seed: int) -> list[np.ndarray | None]:
    """Keep-masks for each layer's input during one epoch: True keeps a unit, with probability 1 - p.

    Row i belongs to the i-th example visited in the epoch, so a batch [k, k + m) of the epoch
    takes rows [k, k + m) of each mask, shaped (m, *the layer's mask shape). Layers without
    dropout get None.
    """
    rng = _generator(seed, DROPOUT_STREAM, epoch)
    return [
        None if shape is None else _keep_mask(rng, (n_examples, *shape), layer.dropout)
        for layer, shape in zip(network.layers, network.mask_shapes)
    ]


def _keep_mask(rng: np.random.Generator, shape: tuple[int, ...], dropout: float) -> np.ndarray:
    """uniform(0, 1) >= p for every entry, drawn MASK_CHUNK_DRAWS uniforms at a time.

    The generator yields the same numbers however they are cut into calls, so the mask has the
    same bits as one draw of the whole shape, without its float64 temporary: 2 GB for one layer of
    the chapter 6 dropout net over the 250,000-image expanded set.
    """
    mask = np.empty(shape, dtype=bool)
    rows = mask.reshape(shape[0], -1)
    rows_per_draw = max(1, MASK_CHUNK_DRAWS // max(1, rows.shape[1]))
    for start in range(0, len(rows), rows_per_draw):
        chunk = rows[start : start + rows_per_draw]
        np.greater_equal(rng.random(chunk.shape), dropout, out=chunk)
    return mask


def dither_generator(seed: int, run: int) -> np.random.Generator:
    """The generator of the reference's dithered run `run` (0 for the first): which way each
    parameter moves by one ulp after each step."""
    return _generator(seed, DITHER_STREAM, run)


@dataclass(frozen=True)
class EpochPlan:
    """Everything random about one epoch, drawn in advance: the order and the dropout masks."""

    epoch: int
    order: np.ndarray
    masks: list[np.ndarray | None]

    def rows(self, rows: slice) -> EpochPlan:
        """Part of the epoch: the examples the plan visits at positions `rows`, with their masks."""
        return EpochPlan(self.epoch, self.order[rows], [None if mask is None else mask[rows] for mask in self.masks])

    def one_step(self, step: int, batch_size: int) -> EpochPlan:
        """Mini-batch `step` (0 for the first) of the plan, alone: training on it is one SGD step."""
        return self.rows(slice(step * batch_size, (step + 1) * batch_size))


def epoch_plan(spec: Spec, n_examples: int, epoch: int, seed: int) -> EpochPlan:
    """Epoch `epoch`'s order and masks over n_examples training examples (with drop_last, over
    those of its whole mini-batches)."""
    visited = spec.training.examples_per_epoch(n_examples)
    return EpochPlan(
        epoch=epoch,
        order=epoch_order(n_examples, epoch, seed, spec.training.shuffle)[:visited],
        masks=dropout_masks(spec.network, visited, epoch, seed),
    )


def batch_bounds(n_examples: int, batch_size: int) -> list[tuple[int, int]]:
    """Mini-batches [k, k + m) for k = 0, m, 2m, ...; the last one may be shorter."""
    return [(start, min(start + batch_size, n_examples)) for start in range(0, n_examples, batch_size)]
