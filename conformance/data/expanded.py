"""Chapter 6's expanded training set: every MNIST training image plus four copies shifted by one
pixel, in one fixed order that is the same on every machine.

``expand_training`` builds it; ``load_expanded_training`` caches it beside the MNIST file's cache,
and rebuilds a cache that is missing, damaged or from another build.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from conformance.data.mnist import (
    IMAGE_SIDE,
    MNIST,
    MNIST_SHA256,
    PIXELS,
    Log,
    Split,
    cache_dir,
    file_sha256,
    short_digest,
    silent,
)
from conformance.spec.errors import DataError
from conformance.spec.files import write_atomically

# The book shuffled the expanded set without a seed, so its order cannot be reproduced.
# Any fixed integer gives an order that is the same on every machine; this is ours.
EXPANSION_SEED = 20151
# sha256 of images.tobytes() and labels.tobytes() of expand_training(real MNIST training split):
# a fresh build must match them, which proves the fixed order really is the same everywhere.
EXPANDED_IMAGES_SHA256 = "a3297a664bc0f2e08499429968a04f773b8933f61b5be689c6019693a5fd3b8b"
EXPANDED_LABELS_SHA256 = "13814339fb70a5bb7ed77959d4a0fc03d067c9abee16b1e92d6c63f3876d950e"

# (rows down, columns right) of each shifted copy, in the order the copies are stacked:
# down, up, right, left.
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))

EXPANDED_MANIFEST = "sha256.json"
EXPANDED_FILES = {"images": "images.npy", "labels": "labels.npy"}


def expand_training(training: Split) -> Split:
    """The book's expanded training set: every image, plus four copies shifted by one pixel.

    Shifted copies teach the network that a digit moved by a pixel is still the same digit
    (chapter 6: 99.23% -> 99.37%). The result holds 5 * len(training) examples: the blocks
    [originals, down, up, right, left], each in the order of ``training``, then reordered by
    one permutation drawn from ``np.random.default_rng(EXPANSION_SEED)``. Labels follow their
    images. Pure: nothing is cached or changed in place.
    """
    squares = training.images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE)
    blocks = np.zeros((1 + len(SHIFTS), *squares.shape), dtype=squares.dtype)
    blocks[0] = squares
    for block, (down, right) in zip(blocks[1:], SHIFTS, strict=True):
        _shift_into(block, squares, down, right)
    labels = np.tile(training.labels, len(blocks))
    order = np.random.default_rng(EXPANSION_SEED).permutation(len(labels))
    return Split(blocks.reshape(-1, PIXELS)[order], labels[order])


def _shift_into(block: np.ndarray, squares: np.ndarray, down: int, right: int) -> None:
    """Copies the images in ``squares`` into the zeroed ``block``, moved ``down`` rows and ``right``
    columns. Pixels pushed off the edge are dropped, and the row or column left empty stays 0:
    unlike np.roll, nothing wraps around to the other side."""
    rows_from, rows_to = _kept_span(down)
    columns_from, columns_to = _kept_span(right)
    block[:, rows_to, columns_to] = squares[:, rows_from, columns_from]


def _kept_span(offset: int) -> tuple[slice, slice]:
    """Along one image axis moved by ``offset`` pixels: where the pixels that stay inside come
    from, and where they land."""
    if offset >= 0:
        return slice(0, IMAGE_SIDE - offset), slice(offset, IMAGE_SIDE)
    return slice(-offset, IMAGE_SIDE), slice(0, IMAGE_SIDE + offset)


def load_expanded_training(mnist: MNIST, *, log: Log | None = None) -> Split:
    """The expanded training set of ``mnist``, from the cache if it verifies, else built and cached.

    Building takes seconds and about 1.6 GB of memory; a cache that is missing, damaged or
    from another build is rebuilt rather than trained on.
    """
    log = log or silent
    folder = _expanded_cache_dir()
    try:
        return _read_expanded(folder)
    except DataError as why:
        log(f"building the expanded training set: {why}")
    expanded = expand_training(mnist.training)
    _check_reference_build(expanded)
    _save_expanded(folder, expanded, log)
    return expanded


def _expanded_cache_dir() -> Path:
    """Named after the MNIST file it is built from."""
    return cache_dir() / f"expanded-{MNIST_SHA256[:12]}"


def _reference_build() -> dict[str, str]:
    """The content hashes every build must have. A function, not a constant, so it always
    reflects EXPANDED_*_SHA256 as they are now."""
    return {"images": EXPANDED_IMAGES_SHA256, "labels": EXPANDED_LABELS_SHA256}


def _check_reference_build(expanded: Split) -> None:
    """Proves a fresh build is the reference order, down to the last byte, on this machine too."""
    built = {"images": _array_sha256(expanded.images), "labels": _array_sha256(expanded.labels)}
    for name, expected in _reference_build().items():
        if built[name] != expected:
            raise DataError(
                f"the expanded training {name} differ from nndl's reference build "
                f"(sha256 {short_digest(built[name])}, expected {short_digest(expected)}); "
                f"this NumPy {np.__version__} may draw the permutation differently"
            )


def _read_expanded(folder: Path) -> Split:
    """The cached expanded set. DataError says why it cannot be used: missing, damaged, or a
    cache of a different build (its manifest records which build it holds)."""
    manifest_path = folder / EXPANDED_MANIFEST
    if not manifest_path.is_file():
        raise DataError(f"no cached copy in {folder} yet")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{manifest_path} is unreadable ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("build") != _reference_build():
        raise DataError(f"{manifest_path} describes a different build")
    arrays = {}
    for name, filename in EXPANDED_FILES.items():
        path = folder / filename
        if not path.is_file() or file_sha256(path) != manifest.get("files", {}).get(filename):
            raise DataError(f"{path} is missing or fails its sha256 check")
        arrays[name] = np.load(path)
    return Split(arrays["images"], arrays["labels"])


def _save_expanded(folder: Path, expanded: Split, log: Log) -> None:
    """Caches a verified build. The manifest is written last, so a crash half-way leaves a cache
    that fails verification and is rebuilt, never one that passes it wrongly. A cache that cannot
    be written costs only a rebuild next time, so that is a warning, not an error."""
    arrays = {"images": expanded.images, "labels": expanded.labels}
    try:
        files = {filename: _save_array(folder / filename, arrays[name]) for name, filename in EXPANDED_FILES.items()}
        manifest = json.dumps({"build": _reference_build(), "files": files}, indent=2)
        write_atomically(folder / EXPANDED_MANIFEST, lambda f: f.write(manifest.encode()), overwrite=True)
    except OSError as err:
        log(
            f"warning: could not cache the expanded training set in {folder} ({err.strerror}); "
            "it will be rebuilt next time"
        )
        return
    log(f"cached the expanded training set in {folder}")


def _save_array(path: Path, array: np.ndarray) -> str:
    """Writes ``array`` as a .npy file atomically and returns the file's sha256 for the manifest."""
    write_atomically(path, lambda f: np.save(f, array), overwrite=True)
    return file_sha256(path)


def _array_sha256(array: np.ndarray) -> str:
    """sha256 of ``array.tobytes()``, hashed in place rather than through a copy of the whole array."""
    return hashlib.sha256(np.ascontiguousarray(array)).hexdigest()
