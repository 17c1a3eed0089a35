"""The PyTorch backend: the network as torch.nn.Modules, every gradient from autograd."""

from .streams import NativeStreams
from .train import Model, prepare_data, resolve_device

__all__ = ["Model", "NativeStreams", "prepare_data", "resolve_device"]
