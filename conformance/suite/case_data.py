"""A case's MNIST splits in each backend's arrays, converted once per case and handed down.

A check makes one `CaseData` for its case and passes it to every helper that trains or evaluates.
The first time a backend's split is asked for, it is converted (conformance.run.training.prepare_data:
the images in the case's dtype, the labels and the one-hot outputs, on the device the backend runs
on); every later use in the case reads that same Dataset. So in a training case each backend's
run, its steps from the reference's parameters, its correct counts and the reference's perturbed
runs share one copy of each split.
"""

from __future__ import annotations

from conformance.run.training import Dataset, prepare_data
from conformance.suite.results import device_for


class CaseData:
    """The case's splits by name (`splits`: "training" already cut to the case's size, and whichever
    splits it evaluates on), each in each backend's arrays once asked for."""

    def __init__(self, spec, splits: dict, device: str):
        self.splits = splits
        self.device = device  # the device asked for; the reference's arrays stay on the CPU (device_for)
        self.n_classes, self.dtype = spec.network.layers[-1].size, spec.training.dtype
        self._made: dict[tuple[object, str], Dataset] = {}  # by (backend module, split)

    @property
    def training(self):
        """The case's training split (NumPy images and labels), for its size, batch order and batches."""
        return self.splits["training"]

    def dataset(self, backend, split: str = "training") -> Dataset:
        """`split` in `backend`'s arrays, on the device it runs on: converted the first time, then the same."""
        key = (backend, split)
        if key not in self._made:
            part, device = self.splits[split], device_for(backend.NAME, self.device)
            self._made[key] = prepare_data(
                backend.asarray, part.images, part.labels, self.n_classes, self.dtype, device
            )
        return self._made[key]
