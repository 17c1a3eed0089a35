"""What several commands share: their options (backend, device, data, spec), reading a spec from
them, the MNIST a command's --data names, and the log on stderr."""

from __future__ import annotations

import argparse
import sys

from conformance.backend.registry import REFERENCE, backend_names, devices, is_backend
from conformance.data import mnist
from conformance.data.splits import fitting_mnist
from conformance.spec.errors import NndlError, SpecError
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec, load_spec


class _RegisteredDevices:
    """The union of the registered backends' DEVICES, found when argparse first checks a --device:
    finding it imports every backend's framework, which takes seconds that `nndl presets` should not pay."""

    def __contains__(self, device) -> bool:
        return device in devices()

    def __iter__(self):
        return iter(devices())


DEVICES = _RegisteredDevices()


def add_backend_options(parser: argparse.ArgumentParser, with_auto: bool = False) -> None:
    names = f"{', '.join(backend_names())}, or a backend module's dotted path (default {REFERENCE})"
    auto = "; auto: the fastest installed one for the net on this machine (measured once, then cached)"
    parser.add_argument("--backend", default=REFERENCE, metavar="NAME", help=names + (auto if with_auto else ""))
    add_device_option(parser, "where the backend runs")


def add_backends_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    names = ",".join(backend_names())
    parser.add_argument(
        "--backends",
        default=names,
        metavar="NAMES",
        help=f"comma-separated backends {purpose}, registered names or backend modules' dotted paths "
        f"(default {names}); one that is not installed is skipped",
    )


def add_device_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    text = f"{purpose} (default cpu; any device a registered backend runs on)"
    parser.add_argument("--device", default="cpu", choices=DEVICES, metavar="DEVICE", help=text)


def add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", metavar="PATH", help="mnist.pkl.gz to use (else $NNDL_DATA, the cache, or a download)"
    )


def add_spec_options(parser: argparse.ArgumentParser, with_load: bool, source_required: bool = True) -> None:
    source = parser.add_mutually_exclusive_group(required=source_required and not with_load)
    source.add_argument("--preset", help="one of `nndl presets`")
    source.add_argument("--spec", metavar="FILE", help="a TOML spec file")
    if with_load:
        parser.add_argument(
            "--load", metavar="CHECKPOINT", help="start from these parameters (an .npz also brings its spec)"
        )
    parser.add_argument("--epochs", type=int, help="epochs to train (the spec's training.epochs)")
    parser.add_argument("--eta", type=float, help="learning rate (training.eta)")
    parser.add_argument("--lmbda", type=float, help="regularisation strength (turns on L2 when the spec has none)")
    parser.add_argument("--regularizer", choices=("none", "l2", "l1"))
    parser.add_argument("--batch-size", type=int, help="mini-batch size m (training.batch_size)")
    parser.add_argument("--dtype", choices=("float64", "float32"), help="training.dtype (float64 is the default)")
    parser.add_argument(
        "--no-shuffle", action="store_true", help="visit the training data in the same order every epoch"
    )
    parser.add_argument("--train-size", type=int, metavar="N", help="train on the first N training images")
    parser.add_argument(
        "--expanded", action="store_true", help="train on the 250,000-image expanded set (built once, cached)"
    )
    add_data_option(parser)


def spec_from_args(args, carried: Spec | None = None, carried_from: str = "") -> Spec:
    """The spec named by --preset or --spec, else the one a checkpoint or a saved run carries (read
    from `carried_from`), with the command line's changes."""
    if args.preset:
        spec, origin = load_preset(args.preset), f"preset {args.preset}"
    elif args.spec:
        spec, origin = load_spec(args.spec), args.spec
    elif carried is not None:
        spec, origin = carried, carried_from
    else:
        raise NndlError("name the network: --preset NAME, --spec FILE, --load an .npz checkpoint or --resume DIR")
    spec = fitting_mnist(spec, origin)
    training = {
        key: value
        for key, value in {
            "epochs": args.epochs,
            "eta": args.eta,
            "lmbda": args.lmbda,
            "regularizer": args.regularizer,
            "batch_size": args.batch_size,
            "dtype": args.dtype,
        }.items()
        if value is not None
    }
    if args.lmbda and "regularizer" not in training and spec.training.regularizer == "none":
        training["regularizer"] = "l2"  # the book's lambda is L2's
    if args.regularizer == "none" and args.lmbda is None:
        training["lmbda"] = 0.0
    if args.no_shuffle:
        training["shuffle"] = False
    if training:
        spec = _with_changes(spec, "training", training)
    data = {"train_size": args.train_size} if args.train_size is not None else {}
    if args.expanded:
        data["expanded"] = True
    if data:
        spec = _with_changes(spec, "data", data)
    return spec


def _with_changes(spec: Spec, section: str, changes: dict) -> Spec:
    """Apply command-line changes, naming the option (not the spec key) if one is invalid."""
    try:
        return spec.with_changes(section, "the command line", **changes)
    except SpecError as error:
        message = str(error)
        for key in changes:
            message = message.replace(f"{section}.{key}", f"--{key.replace('_', '-')}")
        raise SpecError(message) from None


def backend_list(text: str) -> list[str]:
    """--backends NAME,NAME as a list, every name a registered backend or a module that exists."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if not is_backend(name)]
    if unknown or not names:
        problem = f"unknown backend {unknown[0]!r}" if unknown else "name at least one backend"
        choices = f"{', '.join(backend_names())}, or a backend module's dotted path"
        raise NndlError(f"--backends {text!r}: {problem}; choose from: {choices}")
    return names


def mnist_of(args) -> mnist.MNIST:
    """The MNIST file --data names (else $NNDL_DATA, the cache or a download), read and verified."""
    return mnist.load_mnist(args.data, log=log)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NndlError("--plot needs matplotlib: pip install 'nndl[plot]'") from None
