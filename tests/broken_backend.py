"""A backend that is wrong on purpose, by a little: conformance must catch it.

It is the reference with every gradient scaled by (1 + ERROR), and so every SGD step too.
"""

import reference
from reference import train

ERROR = 1e-7
resolve_device = reference.resolve_device
asarray = reference.asarray


class Model(reference.Model):
    def gradients(self, x, y, masks, n):
        return [(w * (1 + ERROR), b * (1 + ERROR)) for w, b in super().gradients(x, y, masks, n)]

    def train_epoch(self, data, plan, eta, on_step=None):
        super().train_epoch(data, plan, eta * (1 + ERROR), on_step)


assert train.Model is reference.Model
