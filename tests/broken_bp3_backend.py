"""A port with a wrong BP3 in its hidden layers: dC/db^l = delta^l * sigma'(z^l), where BP3 has
dC/db^l = delta^l.

A slip students make when they multiply by sigma'(z^l) once more on the way down, for the biases
only. It is the reference with its hidden dense layers' `backward` changed in that one line; delta
(BP1, BP2) and dC/dW = delta a^T (BP4) are right. `nndl conform --explain` must name BP3 at the
hidden layers, reading from their dC/dW, which agrees, that their delta is right.
"""

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.layers import Dense
from tests.toy_backend import model_row

NAME = "bp3bug"


class BiasGradientTimesSigmaPrime(Dense):
    def forward(self, params, x, mask):
        """The reference's, keeping z and a for `backward`."""
        z, a, cache = super().forward(params, x, mask)
        return z, a, (cache, z, a)

    def backward(self, params, cache, delta, to_input):
        """The bug: dC/db = delta * sigma'(z), summed over the batch, where BP3 has dC/db = delta."""
        cache, z, a = cache
        (grad_w, _), input_gradient = super().backward(params, cache, delta, to_input)
        return (grad_w, (delta * self.activation.prime(z, a)).sum(axis=0)), input_gradient


class Model(reference.Model):
    def __init__(self, spec, params, device="cpu"):
        super().__init__(spec, params, device)
        hidden = zip(spec.network.layers[:-1], spec.network.layer_input_shapes, self.network.layers)
        self.network.layers[:-1] = [
            BiasGradientTimesSigmaPrime(layer, shape) if layer.type == "dense" else built
            for layer, shape, built in hidden
        ]


def bench_rows(spec, training_split, device):
    return [BenchRow("bp3bug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
