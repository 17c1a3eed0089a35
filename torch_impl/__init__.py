"""The PyTorch backend: the network as torch.nn.Modules, every gradient from autograd."""

from .device import asarray, resolve_device
from .streams import NativeStreams
from .train import Model

__all__ = ["Model", "NativeStreams", "asarray", "resolve_device"]
