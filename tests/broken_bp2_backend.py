"""A port with a wrong BP2: delta^l = (W^{l+1})^T delta^{l+1} * sigma'(a^l), sigma' taken of the
layer's activation a^l where BP2 has sigma'(z^l).

A slip students make when they reuse the activations they kept for BP4. It is the reference with
its dense layers' `delta` replaced; everything else (BP1, BP3, BP4, the update) is right.
`nndl conform --explain` must name BP2 through the weights of the layer above the first wrong delta.
"""

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.layers import Dense
from tests.toy_backend import model_row

NAME = "bp2bug"


class SigmaPrimeOfActivation(Dense):
    def delta(self, output_gradient, z, a):
        """The bug: sigma'(a^l) = sigma'(sigma(z^l)) where BP2 has sigma'(z^l)."""
        return output_gradient * self.activation.prime(a, self.activation.fn(a))


class Model(reference.Model):
    def __init__(self, spec, params, device="cpu"):
        super().__init__(spec, params, device)
        self.network.layers = [
            SigmaPrimeOfActivation(layer, shape) if layer.type == "dense" else built
            for layer, shape, built in zip(spec.network.layers, spec.network.layer_input_shapes, self.network.layers)
        ]


def bench_rows(spec, training_split, device):
    return [BenchRow("bp2bug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
