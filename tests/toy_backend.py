"""A fourth backend that lives in the tests alone: the NumPy reference under another name.

Named by its dotted path (`nndl conform --backends numpy,tests.toy_backend`), it shows that a
backend needs nothing from the backend-free side but the contract (conformance/backend/contract.py).
It is the reference, so conformance finds no difference at all.
"""

from conformance.backend.contract import BACKEND_ROW, BenchRow
from conformance.run.training import prepare_data
from reference import Model, asarray, resolve_device, synchronize  # noqa: F401 (the contract's names)

NAME = "toy"
FRAMEWORKS = ("numpy",)
DEVICES = ("cpu",)
COMPILES = False


def bench_rows(spec, training_split, device):
    """One row, the toy's Model: a backend need not have baselines."""
    return [BenchRow("toy backend", model_row(Model, spec, training_split, device), BACKEND_ROW)]


def model_row(model_class, spec, training_split, device):
    """A bench row (a StartRow) that trains a NumPy Model, on its own copy of the data."""
    n_classes = spec.network.layers[-1].size
    data = prepare_data(asarray, training_split.images, training_split.labels, n_classes, spec.training.dtype, device)

    def start(params):
        model = model_class(spec, params, device)
        return (lambda plan: model.train_epoch(data, plan, spec.training.eta)), model.parameters

    return start
