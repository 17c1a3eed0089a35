"""The data a spec trains on: MNIST's three splits, with the training set expanded and cut as the
spec's [data] section asks, and the check that a spec's network fits MNIST at all."""

from __future__ import annotations

from conformance.data import mnist
from conformance.data.expanded import load_expanded_training
from conformance.data.mnist import CLASSES, PIXELS, Log, Split
from conformance.spec.errors import SpecError
from conformance.spec.spec import Spec

Splits = dict[str, Split]  # "training", "validation" and "test"


def splits_for(spec: Spec, data=None, log: Log | None = None) -> Splits:
    """The training, validation and test sets `spec` asks for, from the MNIST file `data` names
    (else $NNDL_DATA, the cache or a download: conformance.data.mnist.locate_mnist)."""
    book_file = mnist.load_mnist(data, log=log)
    training = load_expanded_training(book_file, log=log) if spec.data.expanded else book_file.training
    if spec.data.train_size is not None:
        training = training.first(spec.data.train_size)
    return {"training": training, "validation": book_file.validation, "test": book_file.test}


def fitting_mnist(spec: Spec, origin: str) -> Spec:
    """The spec, once it is known to take MNIST's 784 pixels in and give its 10 classes out;
    else a SpecError that names where the spec came from (`origin`)."""
    try:
        spec.check_fits(PIXELS, CLASSES, "MNIST")
    except SpecError as error:
        raise SpecError(f"{origin}: {error}") from None
    return spec
