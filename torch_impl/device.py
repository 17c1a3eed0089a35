"""Where this backend's tensors live (CPU, CUDA or Apple's MPS), and how NumPy arrays become them."""

import numpy as np
import torch

from conformance.spec.errors import NndlError

DTYPES = {"float64": torch.float64, "float32": torch.float32}


def resolve_device(name):
    """The torch.device for --device cpu, cuda or mps, or a one-line error saying what to do.

    On CUDA, TF32 is turned off for matrix products and convolutions: a float32 spec means IEEE
    float32 arithmetic, on every device, so that conformance compares like with like.
    """
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise NndlError(
                f"--device cuda: this torch ({torch.__version__}) sees no CUDA device; "
                "use --device cpu, or install a CUDA build of torch on a machine with an NVIDIA GPU"
            )
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return torch.device("cuda")
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise NndlError("--device mps: this machine has no Apple MPS device; use --device cpu")
        return torch.device("mps")
    raise NndlError(f"unknown device {name!r}; choose one of: cpu, cuda, mps")


def torch_dtype(name, device):
    """The torch dtype of a spec's dtype on a device, or a one-line error where the device has none."""
    if device.type == "mps" and name == "float64":
        raise NndlError("--device mps has no float64; use --dtype float32 there, or --device cpu")
    return DTYPES[name]


def asarray(array, device="cpu"):
    """A NumPy array as a tensor of the same dtype on `device`."""
    device = resolve_device(device) if isinstance(device, str) else device
    if array.dtype.kind == "f":
        torch_dtype(array.dtype.name, device)  # refuses float64 where the device has none
    return torch.as_tensor(np.ascontiguousarray(array), device=device)


def threads():
    """The threads torch computes with on the CPU (intra-op and inter-op), and the vector extension its
    CPU kernels were chosen for (oneDNN's and ATen's)."""
    capability = torch.backends.cpu.get_cpu_capability()
    return {
        "summary": f"{_in_words(torch.get_num_threads())}, {capability}",
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "cpu_capability": capability,
    }


def _in_words(threads):
    """'1 thread', '2 threads'."""
    return f"{threads} thread" + ("" if threads == 1 else "s")
