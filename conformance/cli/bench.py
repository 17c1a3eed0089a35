"""`nndl bench`: the epoch time of each backend and of its baselines, measured in one run."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.backend import environment
from conformance.backend.registry import REFERENCE
from conformance.cli.options import (
    add_backends_option,
    add_device_option,
    add_spec_options,
    backend_list,
    log,
    spec_from_args,
)
from conformance.data.expanded import SHIFTS
from conformance.data.mnist import SPLIT_SIZES
from conformance.data.splits import splits_for
from conformance.spec.errors import NndlError
from conformance.spec.files import refuse_to_overwrite, write_atomically
from conformance.speed import bench as benchmark
from conformance.suite.engine import available_backends


def add_parser(commands) -> None:
    bench = commands.add_parser("bench", help="epoch time of each backend and of its baselines, in one run")
    add_spec_options(bench, with_load=False)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument(
        "--repeat", type=int, default=5, metavar="K", help="epochs per row; each row reports the median (default 5)"
    )
    bench.add_argument("--no-per-example", action="store_true", help="leave out the (slow) per-example algorithm")
    bench.add_argument(
        "--members",
        type=int,
        metavar="K",
        help="also time K members trained as one, in each backend that has an Ensemble, against one member",
    )
    add_backends_option(bench, "whose rows to time")
    add_device_option(bench, f"where the rows of backends other than {REFERENCE} run")
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    bench.add_argument("--overwrite", action="store_true", help="let --json replace an existing file")
    bench.set_defaults(run=run)


def run(args) -> None:
    if args.json:
        refuse_to_overwrite(Path(args.json), args.overwrite)
    if args.repeat < 1:
        raise NndlError("--repeat must be at least 1")
    if args.members is not None and args.members < 1:
        raise NndlError(f"--members {args.members}: an ensemble needs at least 1 member")
    backends = backend_list(args.backends)
    spec = spec_from_args(args)
    training_split = splits_for(spec, args.data, log)["training"]
    rows = benchmark.run_bench(
        spec,
        training_split,
        args.seed,
        args.repeat,
        not args.no_per_example,
        log,
        backends,
        args.device,
        args.members or 0,
    )
    whole = SPLIT_SIZES["training"] * (1 + len(SHIFTS) if spec.data.expanded else 1)
    print(benchmark.report(spec, rows, len(training_split), args.repeat, args.device, whole))
    if args.json:
        ran_on = environment.describe(available_backends(backends, lambda _: None)[0], args.device)
        record = benchmark.to_json(spec, rows, args.device, len(training_split), whole, ran_on)
        text = json.dumps(record, indent=2)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
