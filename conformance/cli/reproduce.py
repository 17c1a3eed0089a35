"""`nndl reproduce`: the book's protocol, a preset's best of several seeds beside the book's figure."""

from __future__ import annotations

from pathlib import Path

from conformance.backend.registry import REFERENCE, load_backend
from conformance.book import reproduce
from conformance.cli.options import add_data_option, add_device_option, log
from conformance.data.splits import splits_for
from conformance.spec.errors import NndlError
from conformance.spec.presets import load_preset


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
    reproduction.add_argument("--out", default="results", metavar="DIR", help="where the results go (default results/)")
    reproduction.add_argument(
        "--readme", metavar="PATH", help="then rewrite the results table in PATH (between its markers) from DIR"
    )
    add_data_option(reproduction)
    reproduction.set_defaults(run=run)


def run(args) -> None:
    if not args.presets and not args.readme:
        raise NndlError("name a preset to reproduce, or --readme PATH to rewrite its results table")
    if args.runs < 1:
        raise NndlError("--runs must be at least 1")
    out = Path(args.out)
    for name in args.presets:
        spec = load_preset(name)
        load_backend(args.backend).resolve_device(args.device)
        seeds = list(range(args.seed, args.seed + args.runs))
        splits = splits_for(spec, args.data, log)
        result = reproduce.reproduce(spec, args.backend, args.device, splits, seeds, out, log)
        print(
            f"{name}: ours {result.best:.2f}% (seed {result.best_seed}), the book {spec.book.accuracy:.2f}%, "
            f"mean {result.mean:.2f}%, spread {result.spread:.2f}; written to {out / name}.json and .md"
        )
    if args.readme:
        reproduce.update_readme(Path(args.readme), out)
        print(f"rewrote the results table in {args.readme} from {out}")
