"""The package ships whole: a wheel built from the checkout holds every module of conformance/ (its
wings' subpackages included), of the three backends and every preset, and runs from where it is
unpacked, with no checkout and no editable install in sight.

The wheel is built offline, with the venv's own setuptools (`pip wheel --no-build-isolation
--no-index`), from a copy of the checkout, so that the checkout gets no build/ folder, and stale
files in one cannot slip into the wheel.
"""

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["conformance", "reference", "torch_impl", "jax_impl"]
PRESETS = ROOT / "conformance" / "spec" / "presets"
# setuptools builds a wheel without the `wheel` package from this version on
SETUPTOOLS_WITH_BDIST_WHEEL = (70, 1)
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "build", "dist", "results", ".*cache", ".import_linter_cache"
)


def setuptools_version() -> tuple[int, ...]:
    try:
        version = importlib.metadata.version("setuptools")
    except importlib.metadata.PackageNotFoundError:
        return ()
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    if setuptools_version() < SETUPTOOLS_WITH_BDIST_WHEEL:
        pytest.fail("the wheel is built with the venv's setuptools, which must be >=70.1: pip install -e '.[dev]'")
    source = tmp_path_factory.mktemp("checkout") / "nndl"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    dist = tmp_path_factory.mktemp("dist")
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "--no-index"]
    result = subprocess.run(
        [*command, "--wheel-dir", str(dist)],
        env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = dist.glob("nndl-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel, tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def test_the_wheel_holds_every_module_and_every_preset(wheel):
    expected = {
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    presets = {path.relative_to(ROOT).as_posix() for path in PRESETS.glob("*.toml")}
    assert presets, "no presets found"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    missing = sorted((expected | presets) - names)
    assert not missing, f"the wheel lacks {missing}"
    assert "conformance/cli/__main__.py" in names  # `python -m conformance.cli`
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == set(PACKAGES), "the wheel holds other top-level packages, or lacks one"


def run_unpacked(unpacked: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """Python with the unpacked wheel first on its path, ahead of the editable install's finder
    (which Python consults last), from a folder with no checkout in it."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=str(unpacked)),
        capture_output=True,
        check=False,
        text=True,
        timeout=300,
    )


def test_the_unpacked_wheel_imports_and_trains_an_epoch(unpacked, tmp_path, mnist_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = run_unpacked(
        unpacked, elsewhere, "-c", "import conformance, reference, sys; print(conformance.__file__, reference.__file__)"
    )
    assert found.returncode == 0, found.stderr
    for file in found.stdout.split():
        assert Path(file).resolve().is_relative_to(unpacked.resolve()), f"{file} is not from the wheel"

    trained = run_unpacked(
        unpacked,
        elsewhere,
        *["-m", "conformance.cli", "train", "--preset", "ch1-sigmoid-30", "--epochs", "1", "--train-size", "1000"],
        *["--quiet", "--data", str(mnist_path)],
    )
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert re.search(r"^epoch\s+1/1", trained.stdout, re.MULTILINE), trained.stdout
