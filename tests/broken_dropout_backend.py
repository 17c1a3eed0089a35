"""A port that forgets dropout's scaling at inference: z = W x + b where network3 has
z = (1 - p) W x + b for a layer whose input was dropped with probability p in training.

Training (masks, gradients, steps) is the reference's; only evaluation differs, so gradient
checks and training steps pass and the correct counts fail. It is the reference with its dense
layers' `infer` replaced. `nndl conform --explain` must name dropout's inference scaling.
"""

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize  # noqa: F401 (the contract's)
from reference.layers import Dense
from tests.toy_backend import model_row

NAME = "dropoutbug"


class UnscaledAtInference(Dense):
    def infer(self, params, x):
        """The bug: z = W x + b, with no (1 - p) however much dropout the layer had in training."""
        w, b = params
        z = x.reshape(len(x), -1) @ w.T + b
        return z, self.activation.fn(z)


class Model(reference.Model):
    def __init__(self, spec, params, device="cpu"):
        super().__init__(spec, params, device)
        self.network.layers = [
            UnscaledAtInference(layer, shape) if layer.type == "dense" else built
            for layer, shape, built in zip(spec.network.layers, spec.network.layer_input_shapes, self.network.layers)
        ]


def bench_rows(spec, training_split, device):
    return [BenchRow("dropoutbug backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]
