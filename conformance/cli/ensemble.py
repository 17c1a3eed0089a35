"""`nndl ensemble`: train k networks (or load them) and report their plurality vote."""

from __future__ import annotations

import json
from pathlib import Path

from conformance.backend.contract import require_model_method
from conformance.backend.registry import load_backend
from conformance.book import ensemble
from conformance.cli.console import ConsoleReporter, run_header
from conformance.cli.options import (
    add_backend_options,
    add_spec_options,
    log,
    mnist_of,
    require_matplotlib,
    spec_from_args,
)
from conformance.cluster.place import add_cluster_options, place_from_args
from conformance.cluster.sweep import open_sweep
from conformance.data.expanded import SHIFTS
from conformance.data.splits import fitting_mnist, splits_for
from conformance.run.training import prepare_data
from conformance.spec.errors import NndlError
from conformance.spec.files import refuse_to_overwrite, write_atomically


def add_parser(commands) -> None:
    vote = commands.add_parser("ensemble", help="train k networks (or load them) and report their plurality vote")
    add_spec_options(vote, with_load=False, source_required=False)
    vote.add_argument(
        "--members",
        type=int,
        metavar="K",
        help="members to train, the first from seed --seed, the next from --seed + 1, ... (default 5)",
    )
    vote.add_argument(
        "--from",
        dest="from_paths",
        nargs="+",
        metavar="CHECKPOINT",
        help="vote with these saved members (.npz from any backend) instead of training",
    )
    add_backend_options(vote)
    vote.add_argument("--seed", type=int, default=0, help="the first member's seed (default 0)")
    vote.add_argument(
        "--runs-dir",
        "--save-members",  # its old name
        dest="runs_dir",
        metavar="DIR",
        help="save each member's run in DIR/member-1, member-2, ... after every epoch (as --checkpoint-dir); "
        "run again, a finished member is loaded and part-trained ones go on from their last epoch. "
        "--save-members DIR is its old name. Needed by --workers and --cluster (storage every worker sees)",
    )
    vote.add_argument(
        "--one-by-one",
        action="store_true",
        help="train the members one after another even where the backend can train them as one (its Ensemble); "
        "--workers and --cluster train each member as a task of its own",
    )
    add_cluster_options(vote)
    vote.add_argument("--json", metavar="PATH", help="write the members' and the vote's figures as JSON")
    vote.add_argument("--plot", metavar="PNG", help="a grid of the test images the vote gets wrong (needs matplotlib)")
    vote.add_argument("--overwrite", action="store_true", help="let --json and --plot replace existing files")
    vote.add_argument("--quiet", action="store_true", help="no progress bar")
    vote.set_defaults(run=run)


def run(args) -> None:
    for path in (args.json, args.plot):
        if path:
            refuse_to_overwrite(Path(path), args.overwrite)
    if args.plot:
        require_matplotlib()
    backend = load_backend(args.backend)
    require_model_method(backend, "predict", "nndl ensemble takes its members' votes with it")
    backend.resolve_device(args.device)
    if args.from_paths:
        spec, members, test = _members_from_checkpoints(args)
    else:
        spec, members, test = _trained_members(args, backend)
    n_classes = spec.network.layers[-1].size
    data = prepare_data(backend.asarray, test.images, test.labels, n_classes, spec.training.dtype, args.device)
    outcome = ensemble.vote(backend, spec, members, data, test.labels, args.device)
    print(ensemble.report(outcome))
    print(ensemble.BOOK_VOTE)
    if args.json:
        text = json.dumps(ensemble.to_json(outcome, spec, args.backend, args.device), indent=2)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    if args.plot:
        ensemble.plot_errors(test.images, outcome, Path(args.plot), args.overwrite)


def _members_from_checkpoints(args):
    """--from: the spec the checkpoints share, the members as (path, parameters), and MNIST's test set."""
    if args.runs_dir:
        raise NndlError("--runs-dir (--save-members) saves members it trains; with --from there are none")
    if place_from_args(args) is not None:
        raise NndlError("--workers and --cluster train the members; with --from there are none to train")
    if args.members is not None and args.members != len(args.from_paths):
        raise NndlError(f"--members {args.members} but --from names {len(args.from_paths)} checkpoints")
    named = spec_from_args(args) if args.preset or args.spec else None
    spec, members = ensemble.load_members(args.from_paths, named)
    spec = fitting_mnist(spec, args.from_paths[0])
    return spec, members, mnist_of(args).test


def _trained_members(args, backend):
    """Train the members (or go on with those --save-members saved), as (origin, parameters)."""
    if not (args.preset or args.spec):
        raise NndlError("name the members: --preset NAME or --spec FILE to train them, or --from CHECKPOINT ...")
    seeds = ensemble.member_seeds(args.seed, 5 if args.members is None else args.members)
    spec = spec_from_args(args)
    folder = Path(args.runs_dir) if args.runs_dir else None
    place = place_from_args(args)
    if place is not None and folder is None:
        raise NndlError(
            "--workers and --cluster train each member as a task that saves its run after every epoch: "
            "name the folder with --runs-dir DIR (storage every worker sees)"
        )
    saved = ensemble.saved_members(folder, spec, seeds) if folder else {}
    if place is not None:
        return _members_as_tasks(args, place, spec, seeds, folder, saved)
    splits = splits_for(spec, args.data, log)
    together = ensemble.trains_together(backend, len(seeds) - len(saved), args.one_by_one)
    members = f", {len(seeds)} members (seeds {seeds[0]} to {seeds[-1]})" + (", trained as one" if together else "")
    members += f", saving each member's run in {folder}" if folder else ""
    settings = {"backend": args.backend, "device": args.device, "seed": args.seed, "rng": "shared"}
    print(run_header(spec, settings, len(splits["training"]), members))

    def reporter_for(i):
        return ConsoleReporter(not args.quiet and not together, prefix=f"member {i + 1} (seed {seeds[i]}) ")

    how = ensemble.Training(args.backend, args.device, folder, reporter_for, args.one_by_one, log)
    trained = ensemble.train_members(backend, spec, splits, seeds, how, saved)
    return spec, [(f"seed {seed}", params) for seed, params in zip(seeds, trained)], splits["test"]


def _members_as_tasks(args, place, spec, seeds, folder, saved):
    """Each member a task on the cluster (each reads the MNIST file --data names, else its own): the spec,
    the members as (origin, parameters), and MNIST's test set."""
    settings = {"backend": args.backend, "device": args.device, "seed": args.seed, "rng": "shared"}
    book_file = mnist_of(args)
    size = spec.data.train_size or len(book_file.training) * (1 + len(SHIFTS) if spec.data.expanded else 1)
    print(
        run_header(spec, settings, size, f", {len(seeds)} members, each a task, saving each member's run in {folder}")
    )
    how = ensemble.Training(args.backend, args.device, folder, reporter_for=None, log=log)
    data = str(Path(args.data).resolve()) if args.data else None
    with open_sweep(place, log, quiet=args.quiet) as sweep:
        try:
            trained = ensemble.train_members_as_tasks(sweep.map, spec, data, seeds, how, saved)
        except KeyboardInterrupt as interruption:
            raise KeyboardInterrupt(
                f"{interruption}; each member's last complete epoch is saved in {folder}: the same command goes on"
            ) from None
    return spec, [(f"seed {seed}", params) for seed, params in zip(seeds, trained)], book_file.test
