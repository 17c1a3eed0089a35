"""`nndl conform`: prove that the backends agree, gradients and training runs, pair by pair.

Exit status: 0 when every backend conforms; 1 when a check failed, or when the run cannot say so
(no pair of backends compared, or a backend that ran no check); 2 for bad input. With --seeds A-B,
one run per seed (spread over Dask workers with --workers or --cluster), each check at its worst seed.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

from conformance.backend.registry import REFERENCE
from conformance.cli.options import add_backends_option, add_data_option, add_device_option, backend_list, log, mnist_of
from conformance.cluster.place import add_cluster_options, place_from_args
from conformance.cluster.sweep import open_sweep
from conformance.spec.errors import NndlError
from conformance.spec.files import refuse_to_overwrite, write_atomically
from conformance.suite import junit, report
from conformance.suite.engine import TIMEOUT, check_names, planned_checks, run_conformance
from conformance.suite.seeds import SeedSweep, parse_seeds, seed_report
from conformance.suite.seeds import table as seed_table
from conformance.suite.seeds import to_json as seeds_json


def add_parser(commands) -> None:
    conform = commands.add_parser(
        "conform", help="prove that the backends agree: gradients and training runs, pair by pair"
    )
    add_backends_option(conform, "to compare")
    conform.set_defaults(backends=None)  # not named: nndl's own torch and jax are skipped if not installed
    depth = conform.add_mutually_exclusive_group()
    depth.add_argument(
        "--quick", dest="mode", action="store_const", const="quick", help="the covering subset (default)"
    )
    depth.add_argument("--full", dest="mode", action="store_const", const="full", help="every configuration")
    conform.set_defaults(mode="quick")
    conform.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="PATTERN",
        help="only the configurations whose name matches PATTERN, a regular expression (repeat for several)",
    )
    conform.add_argument("--list", action="store_true", help="print the configurations and their checks, then stop")
    seeds = conform.add_mutually_exclusive_group()
    seeds.add_argument(
        "--seed", type=int, default=0, help="seed of the shared streams: parameters, batches, masks (default 0)"
    )
    seeds.add_argument(
        "--seeds",
        metavar="A-B",
        help="run the matrix at every seed from A to B, and give each check at its worst seed (value / bound)",
    )
    add_cluster_options(conform)
    add_device_option(conform, f"where the backends other than the reference ({REFERENCE}) run")
    conform.add_argument(
        "--explain",
        action="store_true",
        help="for every failing check, where the backends part: by layer and array, and the book's equation",
    )
    conform.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT,
        metavar="SECONDS",
        help=f"a backend whose own methods take longer in one check fails it (default {TIMEOUT:g}; 0: no limit)",
    )
    conform.add_argument(
        "--traceback", action="store_true", help="print the traceback of every exception a backend's method raised"
    )
    conform.add_argument(
        "--wide", action="store_true", help="every name in full, however long the lines (default: fit 100 columns)"
    )
    conform.add_argument("--json", metavar="PATH", help="write every number of the table as JSON")
    conform.add_argument(
        "--junit-xml", metavar="PATH", help="write each check as a JUnit test case, for a CI server to show"
    )
    conform.add_argument("--overwrite", action="store_true", help="let --json and --junit-xml replace a file")
    add_data_option(conform)
    conform.set_defaults(run=run)


def run(args) -> int:
    if args.list:
        print(configurations(args.mode, args.case))
        return 0
    outputs = [Path(path) for path in (args.json, args.junit_xml) if path]
    for path in outputs:
        refuse_to_overwrite(path, args.overwrite)
    if args.seeds is not None:
        return run_seeds(args)
    if place_from_args(args) is not None:
        raise NndlError("--workers and --cluster spread the seeds of --seeds A-B over workers: give --seeds")
    names = backend_list(args.backends) if args.backends is not None else None
    outcome = run_conformance(
        args.mode, names, mnist_of(args), args.device, args.case, args.seed, log, args.explain, args.timeout
    )
    print(report.table(outcome, args.wide))
    if args.traceback:
        for text in outcome.tracebacks:
            print(text, file=sys.stderr)
    if args.json:
        text = json.dumps(report.to_json(outcome), indent=2, allow_nan=False)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    if args.junit_xml:
        xml = junit.to_junit_xml(outcome)
        write_atomically(Path(args.junit_xml), lambda f: f.write(xml.encode()), args.overwrite)
    return 0 if outcome.conforms else 1


def configurations(mode: str, patterns: list[str]) -> str:
    """`--list`: each configuration of the mode (matching the patterns), and the checks it makes per pair."""
    planned = planned_checks(mode, patterns)
    lines = [f"{len(planned)} configurations in --{mode}" + (" matching --case" if patterns else "") + ":"]
    lines += [f"  {case.name}: {', '.join(check_names(case, how))}" for case, how in planned]
    return "\n".join(lines)


def run_seeds(args) -> int:
    """--seeds A-B: one run of the matrix per seed (a task each with --workers or --cluster), added up."""
    for flag, given in (("--explain", args.explain), ("--junit-xml", args.junit_xml), ("--traceback", args.traceback)):
        if given:
            raise NndlError(f"{flag} is for one seed's run: run that seed alone with --seed S {flag}")
    seeds, place = parse_seeds(args.seeds), place_from_args(args)
    names = backend_list(args.backends) if args.backends is not None else None
    task = functools.partial(seed_report, args.mode, names, args.data, args.device, args.case, args.timeout)
    with open_sweep(place, log) as sweep:
        done = sweep.map(task, [(seed,) for seed in seeds], [f"seed {seed}" for seed in seeds])
    outcome = SeedSweep(
        args.mode,
        {seed: result.value for seed, result in zip(seeds, done) if not result.failed},
        {seed: result.error for seed, result in zip(seeds, done) if result.failed},
    )
    print(seed_table(outcome, args.wide))
    if args.json:
        text = json.dumps(seeds_json(outcome), indent=2, allow_nan=False)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    return 0 if outcome.conforms else 1
