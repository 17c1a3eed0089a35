"""`nndl data` (fetch and verify MNIST) and `nndl presets` (the book's experiments as specs)."""

from __future__ import annotations

from conformance.cli.options import add_data_option, log, mnist_of
from conformance.data.expanded import load_expanded_training
from conformance.data.mnist import MNIST_SHA256
from conformance.spec.presets import load_preset, preset_names
from conformance.spec.spec import spec_to_toml


def add_parsers(commands) -> None:
    data = commands.add_parser("data", help="fetch and verify MNIST, and say where it is")
    add_data_option(data)
    data.add_argument(
        "--expanded", action="store_true", help="also build (once) the 250,000-image expanded training set"
    )
    data.set_defaults(run=run_data)

    presets = commands.add_parser("presets", help="list the book's experiments, or print one as a TOML spec")
    presets.add_argument("--show", metavar="NAME", help="print this preset as a spec file to start your own from")
    presets.set_defaults(run=run_presets)


def run_data(args) -> None:
    mnist = mnist_of(args)
    print(f"MNIST: {mnist.path}")
    print(f"  sha256 {MNIST_SHA256} (verified)")
    print(f"  {len(mnist.training):,} training, {len(mnist.validation):,} validation, {len(mnist.test):,} test images")
    if args.expanded:
        expanded = load_expanded_training(mnist, log=log)
        print(f"  expanded training set: {len(expanded):,} images")


def run_presets(args) -> None:
    if args.show:
        print(spec_to_toml(load_preset(args.show)), end="")
        return
    print(f"{'preset':27s} {'sizes':42s} {'cost':15s} {'init':8s} {'epochs':>6s} {'eta':>6s} {'lambda':>6s}  book")
    for name in preset_names():
        spec = load_preset(name)
        network, training = spec.network, spec.training
        book = f"{spec.book.accuracy:g}% {spec.book.metric.replace('_', ' ')}" if spec.book else ""
        if spec.data.train_size:
            book += f" ({spec.data.train_size:,} training images)"
        print(
            f"{name:27s} {network.layout:42s} {network.cost:15s} {network.init:8s} "
            f"{training.epochs:6d} {training.eta:6g} {training.lmbda:6g}  {book}"
        )
