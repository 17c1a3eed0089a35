"""JAX's own random streams, for `--rng native`: every draw made by jax.random on the device.

They give the same kinds of draw as the shared streams (conformance/data/streams.py), keyed the same
way by (seed, stream, epoch), but from JAX's counter-based generator, so a native run is not
comparable draw for draw with any other backend's; conformance never uses them. Each epoch's
dropout key is split into one key per step, and the scanned epoch draws each step's masks from
its key on the device, so no epoch-sized mask is ever drawn in NumPy or copied. No function here
has a default key: every key is made from the seed when it is asked for.
"""

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from conformance.data.streams import DROPOUT_STREAM, INIT_STREAM, ORDER_STREAM, batch_bounds

from .device import jax_dtype


@dataclass(frozen=True)
class NativeEpochPlan:
    """An epoch drawn by JAX: the order, and one dropout key per mini-batch (masks are drawn per step)."""

    epoch: int
    order: jax.Array
    step_keys: jax.Array

    def one_step(self, step, batch_size):
        """Mini-batch `step` (0 for the first) of the plan, alone: training on it is one SGD step."""
        rows = slice(step * batch_size, (step + 1) * batch_size)
        return NativeEpochPlan(self.epoch, self.order[rows], self.step_keys[step : step + 1])


class NativeStreams:
    """Initial parameters and epoch plans drawn by jax.random on one device."""

    def __init__(self, device):
        self.device = device  # a jax.Device, from train.resolve_device

    def _key(self, seed, stream, *key):
        """A fresh key for (seed, stream, key), made when asked for: never a shared default one."""
        state = np.random.SeedSequence([seed, stream, *key]).generate_state(1, np.uint32)[0]
        return jax.device_put(jax.random.key(int(state)), self.device)

    def initial_parameters(self, network, seed):
        """As conformance.data.streams.initial_parameters: biases first, then weights, in float64."""
        float64 = jax_dtype("float64")  # refuses, rather than drawing float32 quietly, if x64 is off
        shapes = network.parameter_shapes
        keys = jax.random.split(self._key(seed, INIT_STREAM), 2 * len(shapes))  # one per array
        biases = [jax.random.normal(key, b_shape, float64) for key, (_, b_shape) in zip(keys, shapes)]
        weights = [jax.random.normal(key, w_shape, float64) for key, (w_shape, _) in zip(keys[len(shapes) :], shapes)]
        weights = [w if fan is None else w / np.sqrt(fan) for w, fan in zip(weights, network.init_fans)]
        return [
            (np.zeros(w.shape), np.zeros(b.shape)) if zero else (np.asarray(w), np.asarray(b))
            for w, b, zero in zip(weights, biases, network.starts_at_zero)
        ]

    def epoch_plan(self, spec, n_examples, epoch, seed):
        """The epoch's order, on the device, and a dropout key for each of its mini-batches."""
        if spec.training.shuffle:
            order = jax.random.permutation(self._key(seed, ORDER_STREAM, epoch), n_examples)
        else:
            order = jax.device_put(jnp.arange(n_examples), self.device)
        visited = spec.training.examples_per_epoch(n_examples)
        order = order[:visited]
        n_steps = len(batch_bounds(visited, spec.training.batch_size))
        return NativeEpochPlan(epoch, order, jax.random.split(self._key(seed, DROPOUT_STREAM, epoch), n_steps))


def step_masks(network, key, batch_size):
    """One mini-batch's dropout keep-masks, drawn from the step's key: True keeps a unit, with probability 1 - p."""
    layer_keys = jax.random.split(key, len(network.layers))
    return [
        None if shape is None else jax.random.bernoulli(layer_key, 1.0 - layer.dropout, (batch_size, *shape))
        for layer, shape, layer_key in zip(network.layers, network.mask_shapes, layer_keys)
    ]
