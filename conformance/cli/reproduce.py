"""`nndl reproduce`: the book's protocol, a preset's best of several seeds beside the book's figure."""

from __future__ import annotations

from pathlib import Path

from conformance.backend.registry import REFERENCE, load_backend
from conformance.book import reproduce
from conformance.cli.options import add_data_option, add_device_option, log
from conformance.cluster.place import add_cluster_options, place_from_args
from conformance.cluster.sweep import open_sweep
from conformance.data.splits import splits_for
from conformance.spec.errors import NndlError
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec

DEFAULT_OUT = "results"


def add_parser(commands) -> None:
    reproduction = commands.add_parser(
        "reproduce", help="the book's protocol: a preset's best of several seeds, beside the book's figure"
    )
    reproduction.add_argument("presets", nargs="*", metavar="PRESET", help="presets to reproduce (`nndl presets`)")
    reproduction.add_argument("--runs", type=int, default=3, help="runs, one per seed (default 3, as the book)")
    reproduction.add_argument("--seed", type=int, default=0, help="the first run's seed; the others follow (default 0)")
    reproduction.add_argument(
        "--backend", default=REFERENCE, metavar="NAME", help=f"the backend to train with (default {REFERENCE})"
    )
    add_device_option(reproduction, "where the backend runs")
    reproduction.add_argument(
        "--out", metavar="DIR", help=f"where the results go (default {DEFAULT_OUT}/, the book's results table's)"
    )
    reproduction.add_argument(
        "--runs-dir",
        metavar="DIR",
        help="where each run saves its state after every epoch, in DIR/PRESET-seedS (default OUT/runs); "
        "on a cluster, storage every worker sees. The same command again goes on from there",
    )
    reproduction.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="train N epochs, not the preset's (not the book's protocol: needs --out)",
    )
    reproduction.add_argument(
        "--train-size",
        type=int,
        metavar="N",
        help="train on the first N training images (not the book's protocol: needs --out)",
    )
    reproduction.add_argument(
        "--readme", metavar="PATH", help="then rewrite the results table in PATH (between its markers) from DIR"
    )
    reproduction.add_argument("--quiet", action="store_true", help="no bar of runs done")
    add_data_option(reproduction)
    add_cluster_options(reproduction)
    reproduction.set_defaults(run=run)


def run(args) -> None:
    if not args.presets and not args.readme:
        raise NndlError("name a preset to reproduce, or --readme PATH to rewrite its results table")
    if args.runs < 1:
        raise NndlError("--runs must be at least 1")
    shortened = [option for option, value in (("--epochs", args.epochs), ("--train-size", args.train_size)) if value]
    if shortened and args.out is None:
        raise NndlError(
            f"{' and '.join(shortened)}: a run other than the book's protocol; name where it goes with --out DIR "
            f"(it must not land in {DEFAULT_OUT}/, the book's results table's)"
        )
    out = Path(args.out or DEFAULT_OUT)
    specs = [_spec(name, args) for name in args.presets]
    if specs:
        load_backend(args.backend).resolve_device(args.device)
        place = place_from_args(args)
        with open_sweep(place, log, quiet=args.quiet) as sweep:
            for spec in specs:
                _reproduce(spec, args, out, place is not None, sweep)
    if args.readme:
        reproduce.update_readme(Path(args.readme), out)
        print(f"rewrote the results table in {args.readme} from {out}")


def _spec(name: str, args) -> Spec:
    """The preset, with --epochs and --train-size where given."""
    spec = load_preset(name)
    if args.epochs is not None:
        spec = spec.with_changes("training", "--epochs", epochs=args.epochs)
    if args.train_size is not None:
        spec = spec.with_changes("data", "--train-size", train_size=args.train_size)
    return spec


def _reproduce(spec: Spec, args, out: Path, on_a_cluster: bool, sweep) -> None:
    """One preset's runs, in process (the splits read once, here) or as tasks (each reads the MNIST file)."""
    seeds = list(range(args.seed, args.seed + args.runs))
    runs_dir = Path(args.runs_dir) if args.runs_dir else out / "runs"
    data = (str(Path(args.data).resolve()) if args.data else None) if on_a_cluster else splits_for(spec, args.data, log)
    try:
        result = reproduce.reproduce(spec, args.backend, args.device, data, seeds, out, log, runs_dir, sweep.map)
    except KeyboardInterrupt as interruption:
        raise KeyboardInterrupt(
            f"{interruption}; each run's last complete epoch is saved in {runs_dir}: "
            "the same command goes on from there"
        ) from None
    print(
        f"{spec.name}: ours {result.best:.2f}% (seed {result.best_seed}), the book {spec.book.accuracy:.2f}%, "
        f"mean {result.mean:.2f}%, spread {result.spread:.2f}; written to {out / spec.name}.json and .md"
    )
