"""What only the PyTorch backend (torch_impl) has: its devices, and the NumPy backend's refusal of them.

What every framework backend must do (checkpoints that cross between the backends, a framework that
is not installed, `--rng native`, divergence, dtypes, the last short mini-batch, determinism, every
training option of the command line) is tested, for torch too, in test_framework_backends.py.
"""

import pytest

torch = pytest.importorskip("torch")

from tests.backend_support import SMALL, untrained_checkpoint
from tests.cli_support import assert_one_line_error, forbid_training

pytestmark = pytest.mark.usefixtures("quick_mnist", "no_cache_no_download")


@pytest.fixture
def checkpoint(tmp_path):
    return untrained_checkpoint(tmp_path)


# -- devices that are not there ---------------------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_device_cuda_without_cuda(nndl, tmp_path, monkeypatch, checkpoint, command):
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    if command == "train":
        result = nndl("train", "--backend", "torch", "--device", "cuda", *SMALL, "--save", saved)
    else:
        result = nndl("evaluate", checkpoint, "--backend", "torch", "--device", "cuda")
    assert_one_line_error(result, "--device cuda", "no CUDA device", "use --device cpu")
    assert not saved.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_rng_native_on_cuda_without_cuda(nndl, monkeypatch):
    forbid_training(monkeypatch)
    result = nndl("train", "--backend", "torch", "--device", "cuda", "--rng", "native", *SMALL)
    assert_one_line_error(result, "--device cuda", "use --device cpu")


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="this machine has MPS")
def test_device_mps_without_mps(nndl, tmp_path, monkeypatch):
    forbid_training(monkeypatch)
    saved = tmp_path / "out.npz"
    result = nndl("train", "--backend", "torch", "--device", "mps", *SMALL, "--save", saved)
    assert_one_line_error(result, "--device mps", "no Apple MPS device", "use --device cpu")
    assert not saved.exists()


@pytest.mark.parametrize("device", ["cuda", "mps"])
@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_numpy_runs_on_the_cpu_only(nndl, monkeypatch, checkpoint, command, device):
    forbid_training(monkeypatch)
    if command == "train":
        result = nndl("train", "--backend", "numpy", "--device", device, *SMALL)
    else:
        result = nndl("evaluate", checkpoint, "--backend", "numpy", "--device", device)
    assert_one_line_error(result, f"--device {device}", "CPU only", "--backend torch")
