"""An example of a backend from outside nndl: the NumPy reference under another name.

A backend is a module whose module-level names satisfy nndl's backend contract
(conformance.contract, README "Checking your own backend"): NAME and Model are required, and this one
declares the optional names too (FRAMEWORKS, DEVICES, COMPILES, resolve_device, synchronize, asarray,
bench_rows), as a backend that runs on a device of its own would. It borrows the reference's Model, so
`nndl conform --backends numpy,my_backend` finds no difference; a real one would write its own.
examples/learner_port shows the minimal form: NAME, a Model and `supports`.
"""

from conformance.contract import BACKEND_ROW, BenchRow
from conformance.training import prepare_data
from reference import Model, asarray, resolve_device, synchronize

NAME = "my_backend"  # the name its entry point registers it under
FRAMEWORKS = ("numpy",)  # the distributions whose versions change its results or speed
DEVICES = ("cpu",)
COMPILES = False

__all__ = [
    "COMPILES",
    "DEVICES",
    "FRAMEWORKS",
    "NAME",
    "Model",
    "asarray",
    "bench_rows",
    "resolve_device",
    "synchronize",
]


def bench_rows(spec, training_split, device):
    """`nndl bench`'s row for this backend: its Model, trained on its own copy of the data."""
    n_classes = spec.network.layers[-1].size
    data = prepare_data(asarray, training_split.images, training_split.labels, n_classes, spec.training.dtype, device)

    def start(params):
        model = Model(spec, params, device)

        def run_epoch(plan):
            model.train_epoch(data, plan, spec.training.eta)
            synchronize(device, model.params)  # a framework that queues work waits here

        return run_epoch, model.parameters

    return [BenchRow("my_backend backend", start, BACKEND_ROW)]
