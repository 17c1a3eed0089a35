"""`nndl conform`: prove that the backends agree, gradients and training runs, pair by pair."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.backend.registry import REFERENCE
from conformance.cli.options import add_backends_option, add_data_option, add_device_option, backend_list, log, mnist_of
from conformance.spec.files import refuse_to_overwrite, write_atomically
from conformance.suite import report
from conformance.suite.engine import run_conformance


def add_parser(commands) -> None:
    conform = commands.add_parser(
        "conform", help="prove that the backends agree: gradients and training runs, pair by pair"
    )
    add_backends_option(conform, "to compare")
    depth = conform.add_mutually_exclusive_group()
    depth.add_argument(
        "--quick", dest="mode", action="store_const", const="quick", help="the covering subset (default)"
    )
    depth.add_argument("--full", dest="mode", action="store_const", const="full", help="every configuration")
    conform.set_defaults(mode="quick")
    conform.add_argument("--case", default="", metavar="TEXT", help="only the configurations whose name contains TEXT")
    conform.add_argument(
        "--seed", type=int, default=0, help="seed of the shared streams: parameters, batches, masks (default 0)"
    )
    add_device_option(conform, f"where the backends other than the reference ({REFERENCE}) run")
    conform.add_argument(
        "--explain",
        action="store_true",
        help="for every failing check, where the backends part: by layer and array, and the book's equation",
    )
    conform.add_argument(
        "--wide", action="store_true", help="every name in full, however long the lines (default: fit 100 columns)"
    )
    conform.add_argument("--json", metavar="PATH", help="write every number of the table as JSON")
    conform.add_argument("--overwrite", action="store_true", help="let --json replace an existing file")
    add_data_option(conform)
    conform.set_defaults(run=run)


def run(args) -> int:
    if args.json:
        refuse_to_overwrite(Path(args.json), args.overwrite)
    names = backend_list(args.backends)
    outcome = run_conformance(args.mode, names, mnist_of(args), args.device, args.case, args.seed, log, args.explain)
    print(report.table(outcome, args.wide))
    if args.json:
        text = json.dumps(report.to_json(outcome), indent=2)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    return 1 if outcome.failures else 0
