"""A backend that is wrong on purpose, by a little: conformance must catch it.

It is the reference with every gradient scaled by (1 + ERROR), and so every SGD step too.
"""

import reference
from conformance.backend.contract import BACKEND_ROW, BenchRow
from reference import COMPILES, DEVICES, FRAMEWORKS, asarray, resolve_device, synchronize, train  # noqa: F401 (the contract's)
from tests.toy_backend import model_row

NAME = "broken"
ERROR = 1e-7


class Model(reference.Model):
    def gradients(self, x, y, masks, n):
        return [(w * (1 + ERROR), b * (1 + ERROR)) for w, b in super().gradients(x, y, masks, n)]

    def train_epoch(self, data, plan, eta, on_step=None):
        super().train_epoch(data, plan, eta * (1 + ERROR), on_step)


def bench_rows(spec, training_split, device):
    return [BenchRow("broken backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]


assert train.Model is reference.Model
