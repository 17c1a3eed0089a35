"""Torch's own random streams, for `--rng native`: every draw made by torch.Generator on the device.

They give the same kinds of draw as the shared streams (conformance/data/streams.py), keyed the same
way by (seed, stream, epoch), but from torch's generator, so a native run is not comparable draw
for draw with any other backend's; conformance never uses them. What they save is the NumPy
draws and the copy of the order and the masks onto the device each epoch. (The reference has no
such file: NumPy's generator is the shared stream.)
"""

import numpy as np
import torch

from conformance.data.streams import DROPOUT_STREAM, INIT_STREAM, ORDER_STREAM, EpochPlan


class NativeStreams:
    """Initial parameters and epoch plans drawn by torch on one device."""

    def __init__(self, device):
        self.device = torch.device(device)

    def _generator(self, seed, stream, *key):
        """A fresh generator for (seed, stream, key), made when asked for: never a shared default one."""
        state = np.random.SeedSequence([seed, stream, *key]).generate_state(1, np.uint64)[0]
        return torch.Generator(device=self.device).manual_seed(int(state))

    def initial_parameters(self, network, seed):
        """As conformance.data.streams.initial_parameters: biases first, then weights, in float64."""
        generator = self._generator(seed, INIT_STREAM)

        def normal(shape):
            return torch.randn(shape, generator=generator, dtype=torch.float64, device=self.device)

        shapes = network.parameter_shapes
        biases = [normal(b_shape) for _, b_shape in shapes]
        weights = [normal(w_shape) for w_shape, _ in shapes]
        weights = [w if fan is None else w / np.sqrt(fan) for w, fan in zip(weights, network.init_fans)]
        return [
            (np.zeros(w.shape), np.zeros(b.shape)) if zero else (w.cpu().numpy(), b.cpu().numpy())
            for w, b, zero in zip(weights, biases, network.starts_at_zero)
        ]

    def epoch_plan(self, spec, n_examples, epoch, seed):
        """The epoch's order and dropout keep-masks, as tensors already on the device."""
        if spec.training.shuffle:
            order = torch.randperm(n_examples, generator=self._generator(seed, ORDER_STREAM, epoch), device=self.device)
        else:
            order = torch.arange(n_examples, device=self.device)
        visited = spec.training.examples_per_epoch(n_examples)
        generator = self._generator(seed, DROPOUT_STREAM, epoch)
        masks = [
            None
            if shape is None
            else torch.rand((visited, *shape), generator=generator, device=self.device) >= layer.dropout
            for layer, shape in zip(spec.network.layers, spec.network.mask_shapes)
        ]
        return EpochPlan(epoch=epoch, order=order[:visited], masks=masks)
