"""Where this backend's arrays live (the CPU, or a GPU that JAX sees), and how NumPy arrays become them."""

import jax
import jax.numpy as jnp
import numpy as np

from conformance.spec.errors import NndlError

DTYPES = {"float64": jnp.float64, "float32": jnp.float32}


def resolve_device(name):
    """The jax.Device for --device cpu or cuda, or a one-line error saying what to do."""
    if name == "cpu":
        return jax.devices("cpu")[0]
    if name == "cuda":
        try:
            return jax.devices("gpu")[0]
        except RuntimeError:
            raise NndlError(
                f"--device cuda: this jax ({jax.__version__}) sees no GPU; use --device cpu, or install "
                "jax[cuda12] on a machine with an NVIDIA GPU"
            ) from None
    if name == "mps":
        raise NndlError("--device mps: the jax backend does not run on Apple MPS; use --device cpu")
    raise NndlError(f"unknown device {name!r}; choose one of: cpu, cuda, mps")


def jax_dtype(name):
    """The JAX dtype of a spec's dtype, refusing float64 when JAX would quietly make it float32.

    JAX computes in float32 unless its x64 mode is on: jax_impl turns it on when imported (see
    jax_impl/__init__.py), and this check catches anything that turned it off since.
    """
    if name == "float64" and not jax.config.jax_enable_x64:
        raise NndlError(
            "float64 needs JAX's x64 mode, and something turned it off after jax_impl turned it on; "
            "set JAX_ENABLE_X64=1, or use --dtype float32"
        )
    return DTYPES[name]


def asarray(array, device="cpu"):
    """A NumPy array as a JAX array of the same dtype on `device`."""
    device = resolve_device(device) if isinstance(device, str) else device
    if array.dtype.kind == "f":
        jax_dtype(array.dtype.name)  # refuses float64 if x64 is off, rather than quietly making float32
    return jax.device_put(np.asarray(array), device)


def threads():
    """What JAX computes with on the CPU: its CPU devices (jax_impl makes one per core). XLA does not
    report the size of its thread pool (XLA_FLAGS, where set, is in the record's settings)."""
    cpus = len(jax.devices("cpu"))
    return {"summary": f"{cpus} CPU devices", "threads": None, "cpu_devices": cpus}
