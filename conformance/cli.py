"""The `nndl` command: data, presets, train, evaluate, ensemble, conform, bench, lesson.

Every error the user can cause (a bad spec, a missing data file, a wrong checkpoint, a run that
diverges) ends as one line on stderr and exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

from . import bench as benchmark
from . import ensemble, environment, fastest, lesson, lesson_html, reproduce, runs
from . import report as conformance_report
from . import streams as shared_streams
from .backends import REFERENCE, backend_names, devices, is_backend, load_backend
from .checkpoint import check_parameters, check_savable, load_checkpoint, save_checkpoint
from .data import CLASSES, MNIST_SHA256, PIXELS, SHIFTS, SPLIT_SIZES, load_expanded_training, load_mnist
from .engine import available_backends, run_conformance
from .errors import NndlError, SpecError
from .files import refuse_to_overwrite, write_atomically
from .layer_speeds import LayerSpeeds
from .layer_speeds import plot as plot_layer_speeds
from .presets import load_preset, preset_names
from .spec import Spec, load_spec, spec_to_toml
from .streams import Parameters
from .training import EpochRecord, History, evaluate, prepare_data, train


class _RegisteredDevices:
    """The union of the registered backends' DEVICES, found when argparse first checks a --device:
    finding it imports every backend's framework, which takes seconds that `nndl presets` should not pay."""

    def __contains__(self, device) -> bool:
        return device in devices()

    def __iter__(self):
        return iter(devices())


DEVICES = _RegisteredDevices()


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args) or 0
    except NndlError as error:
        print(f"nndl: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interruption:
        what_was_saved = f"; {interruption}" if interruption.args else ""
        print(f"nndl: interrupted{what_was_saved}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away, as `nndl presets | head` does
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (stdout for the rest of the process)
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nndl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="fetch and verify MNIST, and say where it is")
    _add_data_option(data)
    data.add_argument(
        "--expanded", action="store_true", help="also build (once) the 250,000-image expanded training set"
    )
    data.set_defaults(run=run_data)

    presets = commands.add_parser("presets", help="list the book's experiments, or print one as a TOML spec")
    presets.add_argument("--show", metavar="NAME", help="print this preset as a spec file to start your own from")
    presets.set_defaults(run=run_presets)

    training = commands.add_parser("train", help="train a network and report accuracy per epoch")
    _add_spec_options(training, with_load=True)
    _add_backend_options(training, with_auto=True)
    training.add_argument(
        "--remeasure", action="store_true", help="with --backend auto: time the backends again, whatever the cache says"
    )
    training.add_argument(
        "--seed", type=int, default=0, help="seed of the random streams (default 0; with --resume, the run's)"
    )
    training.add_argument(
        "--rng",
        choices=("shared", "native"),
        default="shared",
        help="shared: the NumPy streams every backend can reproduce (default); "
        "native: the backend's own generator, faster, not comparable draw for draw",
    )
    training.add_argument(
        "--save", metavar="PATH", help="write the trained parameters: .npz (nndl) or .json (the book's network2)"
    )
    training.add_argument("--json", metavar="PATH", help="write the run's per-epoch figures as JSON")
    training.add_argument("--plot", metavar="PNG", help="plot accuracy and cost per epoch (needs matplotlib)")
    training.add_argument(
        "--layer-speeds",
        action="store_true",
        help="record ch. 5's speed of learning, ||dC/db|| of each hidden layer, per epoch (in --json and --plot)",
    )
    training.add_argument(
        "--overwrite", action="store_true", help="let --save, --json and --plot replace existing files"
    )
    training.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="save the run's state in DIR after every epoch, so that --resume DIR can go on after a kill",
    )
    training.add_argument(
        "--resume",
        metavar="DIR",
        help="go on with the run saved in DIR from its last complete epoch, to the run's epochs "
        "(or --epochs N in all), with its spec, backend, device, seed and rng",
    )
    training.add_argument(
        "--allow-changes",
        action="store_true",
        help="with --resume: go on even though options given change the run (it is then not the run left alone)",
    )
    training.add_argument("--quiet", action="store_true", help="no progress bar")
    # --resume takes these from the saved run unless given, so a given one must be told from a default
    new_run_defaults = {name: training.get_default(name) for name in runs.RUN_SETTINGS}
    training.set_defaults(run=run_train, new_run_defaults=new_run_defaults, **dict.fromkeys(runs.RUN_SETTINGS))

    evaluate = commands.add_parser("evaluate", help="accuracy and cost of a checkpoint on validation and test data")
    evaluate.add_argument("checkpoint", help="an .npz checkpoint (or the book's .json with --preset/--spec)")
    evaluate.add_argument("--preset", help="the network of a .json checkpoint")
    evaluate.add_argument("--spec", metavar="FILE", help="the network of a .json checkpoint")
    _add_backend_options(evaluate)
    _add_data_option(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    vote = commands.add_parser("ensemble", help="train k networks (or load them) and report their plurality vote")
    _add_spec_options(vote, with_load=False, source_required=False)
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
    _add_backend_options(vote)
    vote.add_argument("--seed", type=int, default=0, help="the first member's seed (default 0)")
    vote.add_argument(
        "--save-members",
        metavar="DIR",
        help="save each member's run in DIR/member-1, member-2, ... after every epoch (as --checkpoint-dir); "
        "run again, a finished member is loaded and part-trained ones go on from their last epoch",
    )
    vote.add_argument(
        "--one-by-one",
        action="store_true",
        help="train the members one after another even where the backend can train them as one (its Ensemble)",
    )
    vote.add_argument("--json", metavar="PATH", help="write the members' and the vote's figures as JSON")
    vote.add_argument("--plot", metavar="PNG", help="a grid of the test images the vote gets wrong (needs matplotlib)")
    vote.add_argument("--overwrite", action="store_true", help="let --json and --plot replace existing files")
    vote.add_argument("--quiet", action="store_true", help="no progress bar")
    # the members train on the shared streams, and save their runs in --save-members, not --checkpoint-dir
    vote.set_defaults(run=run_ensemble, rng="shared", checkpoint_dir=None)

    conform = commands.add_parser(
        "conform", help="prove that the backends agree: gradients and training runs, pair by pair"
    )
    _add_backends_option(conform, "to compare")
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
    _add_device_option(conform, f"where the backends other than the reference ({REFERENCE}) run")
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
    _add_data_option(conform)
    conform.set_defaults(run=run_conform)

    reproduction = commands.add_parser(
        "reproduce", help="the book's protocol: a preset's best of several seeds, beside the book's figure"
    )
    reproduction.add_argument("presets", nargs="*", metavar="PRESET", help="presets to reproduce (`nndl presets`)")
    reproduction.add_argument("--runs", type=int, default=3, help="runs, one per seed (default 3, as the book)")
    reproduction.add_argument("--seed", type=int, default=0, help="the first run's seed; the others follow (default 0)")
    reproduction.add_argument(
        "--backend", default=REFERENCE, metavar="NAME", help=f"the backend to train with (default {REFERENCE})"
    )
    _add_device_option(reproduction, "where the backend runs")
    reproduction.add_argument("--out", default="results", metavar="DIR", help="where the results go (default results/)")
    reproduction.add_argument(
        "--readme", metavar="PATH", help="then rewrite the results table in PATH (between its markers) from DIR"
    )
    _add_data_option(reproduction)
    reproduction.set_defaults(run=run_reproduce)

    bench = commands.add_parser("bench", help="epoch time of each backend and of its baselines, in one run")
    _add_spec_options(bench, with_load=False)
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
    _add_backends_option(bench, "whose rows to time")
    _add_device_option(bench, f"where the rows of backends other than {REFERENCE} run")
    bench.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    bench.add_argument("--overwrite", action="store_true", help="let --json replace an existing file")
    bench.set_defaults(run=run_bench)

    lessons = commands.add_parser(
        "lesson", help="one concept of the book in the three backends, side by side, with proof"
    )
    lessons.add_argument("concept", nargs="?", help="the concept to show (without one: the list of concepts)")
    lessons.add_argument(
        "--html", metavar="DIR", help="write the lessons (or just CONCEPT's) as a static site into DIR"
    )
    lessons.add_argument("--overwrite", action="store_true", help="let --html write into a directory that has files")
    lessons.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="highlight differences (default auto: on a terminal)",
    )
    _add_data_option(lessons)
    lessons.set_defaults(run=run_lesson)
    return parser


def _add_backend_options(parser: argparse.ArgumentParser, with_auto: bool = False) -> None:
    names = f"{', '.join(backend_names())}, or a backend module's dotted path (default {REFERENCE})"
    auto = "; auto: the fastest installed one for the net on this machine (measured once, then cached)"
    parser.add_argument("--backend", default=REFERENCE, metavar="NAME", help=names + (auto if with_auto else ""))
    _add_device_option(parser, "where the backend runs")


def _add_backends_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    names = ",".join(backend_names())
    parser.add_argument(
        "--backends",
        default=names,
        metavar="NAMES",
        help=f"comma-separated backends {purpose}, registered names or backend modules' dotted paths "
        f"(default {names}); one that is not installed is skipped",
    )


def _add_device_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    text = f"{purpose} (default cpu; any device a registered backend runs on)"
    parser.add_argument("--device", default="cpu", choices=DEVICES, metavar="DEVICE", help=text)


def _add_data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", metavar="PATH", help="mnist.pkl.gz to use (else $NNDL_DATA, the cache, or a download)"
    )


def _add_spec_options(parser: argparse.ArgumentParser, with_load: bool, source_required: bool = True) -> None:
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
    _add_data_option(parser)


# -- commands ---------------------------------------------------------------------------------


def run_data(args) -> None:
    mnist = load_mnist(args.data, log=_log)
    print(f"MNIST: {mnist.path}")
    print(f"  sha256 {MNIST_SHA256} (verified)")
    print(f"  {len(mnist.training):,} training, {len(mnist.validation):,} validation, {len(mnist.test):,} test images")
    if args.expanded:
        expanded = load_expanded_training(mnist, log=_log)
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


def run_train(args) -> None:
    _check_resume_options(args)
    saved = runs.load_run(Path(args.resume)) if args.resume else None
    checkpoint = load_checkpoint(args.load) if args.load else None
    if saved is not None:
        spec = _spec_from_args(args, saved.spec, args.resume)
    else:
        spec = _spec_from_args(args, checkpoint.spec if checkpoint else None, args.load)
    _settle_run_settings(args, saved)
    if saved is not None:
        runs.check_changes(saved, spec, _run_settings(args), args.allow_changes, _log)
        runs.check_epochs(saved, spec)
    _check_outputs(args, spec)
    if args.remeasure and args.backend != "auto":
        raise NndlError("--remeasure goes with --backend auto")
    if args.checkpoint_dir:
        runs.prepare_run_folder(Path(args.checkpoint_dir))
    finished = runs.finished(saved, spec) if saved else None
    if finished is not None:
        print(runs.finished_note(saved, finished))
        _finish(args, spec, finished, saved.params, saved.start)
        return
    splits = None
    if args.backend == "auto":
        splits = _splits(spec, args.data)
        choice = fastest.fastest_backend(spec, splits["training"], args.device, _log, args.remeasure)
        _log(choice.describe(spec, args.device))
        args.backend = choice.backend  # from here on, the run is the one `--backend CHOSEN` would make
    backend = load_backend(args.backend)
    backend.resolve_device(args.device)
    streams = _streams(backend, args)
    start = _start_of_run(args, spec, checkpoint, saved)
    splits = splits or _splits(spec, args.data)
    print(_run_header(spec, args, splits, start.note))
    speeds = None
    if args.layer_speeds:
        speeds = LayerSpeeds(spec, splits["training"])
        initial = start.params if start.params is not None else streams.initial_parameters(spec.network, args.seed)
        speeds.at_start(backend, initial, start.first_epoch - 1 + len(start.done), args.device)
    history, model = _train_run(args, backend, spec, splits, streams, start, speeds)
    _finish(args, spec, history, model.parameters(), start.origin, speeds)


def _check_outputs(args, spec: Spec) -> None:
    """Refuse --save, --json and --plot before training rather than after it."""
    for path in (args.save, args.json, args.plot):
        if path:
            refuse_to_overwrite(Path(path), args.overwrite)
    if args.save:
        check_savable(Path(args.save), spec)
    if args.plot:
        _require_matplotlib()


def _check_resume_options(args) -> None:
    """--resume goes on with the run in its folder: it neither starts from elsewhere nor writes elsewhere."""
    if not args.resume:
        if args.allow_changes:
            raise NndlError("--allow-changes goes with --resume")
        return
    given = {"--preset": args.preset, "--spec": args.spec, "--load": args.load, "--checkpoint-dir": args.checkpoint_dir}
    clashing = [option for option, value in given.items() if value]
    if clashing:
        raise NndlError(
            f"--resume {args.resume} goes on with the run saved there, in its spec and its folder; "
            f"leave out {', '.join(clashing)}"
        )


def _settle_run_settings(args, saved) -> None:
    """--backend, --device, --seed and --rng: as given, else the resumed run's, else their defaults."""
    for name in runs.RUN_SETTINGS:
        if getattr(args, name) is None:
            setattr(args, name, saved.settings[name] if saved else args.new_run_defaults[name])


def _run_settings(args) -> dict:
    return runs.run_settings(args.backend, args.device, args.seed, args.rng)


class _Start(NamedTuple):
    """Where a run's training starts: its parameters (None: the seed's draw), its first epoch, the
    epochs it has done already, and how --json and the header name that start."""

    params: Parameters | None
    first_epoch: int
    done: list[EpochRecord]
    origin: str
    note: str


def _start_of_run(args, spec: Spec, checkpoint, saved) -> _Start:
    if saved is not None:
        check_parameters(spec.network, saved.params, args.resume)
        note = f", going on after epoch {saved.last_saved_epoch} saved in {args.resume}"
        return _Start(saved.params, saved.first_epoch, saved.records, saved.start, note)
    if checkpoint is not None:
        check_parameters(spec.network, checkpoint.params, args.load)
        first_epoch = checkpoint.metadata.get("epochs_trained", 0) + 1
        return _Start(checkpoint.params, first_epoch, [], args.load, f", starting from {args.load}")
    return _Start(None, 1, [], "initial parameters from the seed", "")


def _train_run(args, backend, spec: Spec, splits, streams, start: _Start, speeds: LayerSpeeds | None):
    """train(), saving the run's state after every epoch when it has a folder, and measuring the
    layers' speeds if asked; an interruption says what it leaves behind."""
    folder = args.checkpoint_dir or args.resume
    recorder = None
    if folder:
        settings = _run_settings(args)
        recorder = runs.RunRecorder(Path(folder), spec, settings, start.origin, start.first_epoch, bool(args.resume))
    reporter = _ConsoleReporter(show_progress=not args.quiet)
    try:
        return train(
            backend,
            spec,
            splits,
            args.seed,
            initial=start.params,
            reporter=reporter,
            first_epoch=start.first_epoch,
            device=args.device,
            streams=streams,
            done=start.done,
            on_epoch=_each(recorder.save if recorder else None, speeds.on_epoch if speeds else None),
        )
    except KeyboardInterrupt:
        reporter.close_bar()
        left = recorder.interrupted() if recorder else "nothing was saved (--checkpoint-dir DIR keeps every epoch)"
        raise KeyboardInterrupt(left) from None


def _each(*callbacks):
    """One on_epoch callback that calls each of `callbacks` that is not None (or None, if none is)."""
    given = [callback for callback in callbacks if callback is not None]
    if not given:
        return None

    def each(history, model):
        for callback in given:
            callback(history, model)

    return each


def _finish(args, spec: Spec, history: History, params, start: str, speeds: LayerSpeeds | None = None) -> None:
    """Sum the run up, and write what --save, --json and --plot ask for."""
    print(_summary(spec, history))
    result = {
        "spec": spec.to_dict(),
        "backend": args.backend,
        "device": args.device,
        "seed": args.seed,
        "rng": args.rng,
        "start": start,
        "ran_on": environment.describe({args.backend: load_backend(args.backend)}, args.device),
        **history.to_dict(),
    }
    if speeds is not None:
        result["layer_speeds"] = speeds.to_dict()
    if args.save:
        metadata = {
            "backend": args.backend,
            "device": args.device,
            "seed": args.seed,
            "rng": args.rng,
            "epochs_trained": history.records[-1].epoch,
        }
        save_checkpoint(args.save, spec, params, metadata, args.overwrite)
        print(f"saved the parameters after epoch {history.records[-1].epoch} to {args.save}")
    if args.json:
        text = json.dumps(result, indent=2)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    if args.plot:
        _plot(spec, history.records, Path(args.plot), args.overwrite, result.get("layer_speeds"))


def run_evaluate(args) -> None:
    checkpoint = load_checkpoint(args.checkpoint)
    if args.preset or args.spec:
        spec = _fitting_mnist(
            load_preset(args.preset) if args.preset else load_spec(args.spec), args.preset or args.spec
        )
    elif checkpoint.spec is not None:
        spec = _fitting_mnist(checkpoint.spec, args.checkpoint)
    else:
        raise NndlError(
            f"{args.checkpoint} does not carry a spec (the book's format): name its network with --preset or --spec"
        )
    check_parameters(spec.network, checkpoint.params, args.checkpoint)
    backend = load_backend(args.backend)
    model = backend.Model(spec, checkpoint.params, args.device)
    mnist = load_mnist(args.data, log=_log)
    n_classes, dtype = spec.network.layers[-1].size, spec.training.dtype
    for name in ("validation", "test"):
        split = getattr(mnist, name)
        data = prepare_data(backend.asarray, split.images, split.labels, n_classes, dtype, args.device)
        correct, cost = evaluate(model, data, spec.network)
        print(f"{name:10s} {correct:6d} / {len(split)}  ({100 * correct / len(split):.2f}%)  cost {cost:.4f}")


def run_ensemble(args) -> None:
    for path in (args.json, args.plot):
        if path:
            refuse_to_overwrite(Path(path), args.overwrite)
    if args.plot:
        _require_matplotlib()
    backend = load_backend(args.backend)
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
    if args.save_members:
        raise NndlError("--save-members saves members it trains; with --from there are none")
    if args.members is not None and args.members != len(args.from_paths):
        raise NndlError(f"--members {args.members} but --from names {len(args.from_paths)} checkpoints")
    named = _spec_from_args(args) if args.preset or args.spec else None
    spec, members = ensemble.load_members(args.from_paths, named)
    spec = _fitting_mnist(spec, args.from_paths[0])
    return spec, members, load_mnist(args.data, log=_log).test


def _trained_members(args, backend):
    """Train the members (or go on with those --save-members saved), as (origin, parameters)."""
    if not (args.preset or args.spec):
        raise NndlError("name the members: --preset NAME or --spec FILE to train them, or --from CHECKPOINT ...")
    seeds = ensemble.member_seeds(args.seed, 5 if args.members is None else args.members)
    spec = _spec_from_args(args)
    folder = Path(args.save_members) if args.save_members else None
    saved = ensemble.saved_members(folder, spec, seeds) if folder else {}
    splits = _splits(spec, args.data)
    together = ensemble.trains_together(backend, len(seeds) - len(saved), args.one_by_one)
    members = f", {len(seeds)} members (seeds {seeds[0]} to {seeds[-1]})" + (", trained as one" if together else "")
    members += f", saving each member's run in {folder}" if folder else ""
    print(_run_header(spec, args, splits, members))

    def reporter_for(i):
        return _ConsoleReporter(not args.quiet and not together, prefix=f"member {i + 1} (seed {seeds[i]}) ")

    how = ensemble.Training(args.backend, args.device, folder, reporter_for, args.one_by_one, _log)
    trained = ensemble.train_members(backend, spec, splits, seeds, how, saved)
    return spec, [(f"seed {seed}", params) for seed, params in zip(seeds, trained)], splits["test"]


def run_conform(args) -> int:
    if args.json:
        refuse_to_overwrite(Path(args.json), args.overwrite)
    names = _backend_list(args.backends)
    mnist = load_mnist(args.data, log=_log)
    outcome = run_conformance(args.mode, names, mnist, args.device, args.case, args.seed, _log, args.explain)
    print(conformance_report.table(outcome, args.wide))
    if args.json:
        text = json.dumps(conformance_report.to_json(outcome), indent=2)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    return 1 if outcome.failures else 0


def _backend_list(text: str) -> list[str]:
    """--backends NAME,NAME as a list, every name a registered backend or a module that exists."""
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    unknown = [name for name in names if not is_backend(name)]
    if unknown or not names:
        problem = f"unknown backend {unknown[0]!r}" if unknown else "name at least one backend"
        choices = f"{', '.join(backend_names())}, or a backend module's dotted path"
        raise NndlError(f"--backends {text!r}: {problem}; choose from: {choices}")
    return names


def run_reproduce(args) -> None:
    if not args.presets and not args.readme:
        raise NndlError("name a preset to reproduce, or --readme PATH to rewrite its results table")
    if args.runs < 1:
        raise NndlError("--runs must be at least 1")
    out = Path(args.out)
    for name in args.presets:
        spec = load_preset(name)
        backend = load_backend(args.backend)
        backend.resolve_device(args.device)
        seeds = list(range(args.seed, args.seed + args.runs))
        result = reproduce.reproduce(spec, backend, args.device, _splits(spec, args.data), seeds, out, _log)
        print(
            f"{name}: ours {result.best:.2f}% (seed {result.best_seed}), the book {spec.book.accuracy:.2f}%, "
            f"mean {result.mean:.2f}%, spread {result.spread:.2f}; written to {out / name}.json and .md"
        )
    if args.readme:
        reproduce.update_readme(Path(args.readme), out)
        print(f"rewrote the results table in {args.readme} from {out}")


def run_bench(args) -> None:
    if args.json:
        refuse_to_overwrite(Path(args.json), args.overwrite)
    if args.repeat < 1:
        raise NndlError("--repeat must be at least 1")
    if args.members is not None and args.members < 1:
        raise NndlError(f"--members {args.members}: an ensemble needs at least 1 member")
    backends = _backend_list(args.backends)
    spec = _spec_from_args(args)
    training_split = _splits(spec, args.data)["training"]
    rows = benchmark.run_bench(
        spec,
        training_split,
        args.seed,
        args.repeat,
        not args.no_per_example,
        _log,
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


# -- helpers ----------------------------------------------------------------------------------


def run_lesson(args) -> int:
    """The list, one lesson in the terminal, or the site; exit 1 if a lesson's evidence failed."""
    mnist = lesson.mnist_loader(lambda: load_mnist(args.data, log=_log))
    concepts = [lesson.lookup(args.concept)] if args.concept else list(lesson.CONCEPTS)
    if args.html:
        written = lesson_html.write_site(
            Path(args.html), concepts, lambda c: lesson.measure(c, mnist), args.overwrite, _log
        )
        print(f"wrote {len(written)} pages; open {Path(args.html) / 'index.html'}")
        return 0
    if not args.concept:
        print(lesson.index_text())
        return 0
    evidence = lesson.measure(concepts[0], mnist)
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty())
    print(lesson.lesson_text(concepts[0], evidence, color=color))
    return 0 if evidence is None or evidence.passed else 1


def _spec_from_args(args, carried: Spec | None = None, carried_from: str = "") -> Spec:
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
    spec = _fitting_mnist(spec, origin)
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


def _streams(backend, args):
    """The random streams of a run: the shared NumPy ones, or with --rng native the backend's own."""
    if args.rng == "shared":
        return shared_streams
    if not hasattr(backend, "NativeStreams"):
        _log(f"--rng native: the {args.backend} backend's own generator is NumPy's, so native is the shared streams")
        return shared_streams
    return backend.NativeStreams(backend.resolve_device(args.device))


def _fitting_mnist(spec: Spec, origin: str) -> Spec:
    """The spec, once it is known to take MNIST's 784 pixels in and give its 10 classes out."""
    try:
        spec.check_fits(PIXELS, CLASSES, "MNIST")
    except SpecError as error:
        raise SpecError(f"{origin}: {error}") from None
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


def _splits(spec: Spec, data_path) -> dict:
    """The training, validation and test sets the spec asks for, as data.Split objects."""
    mnist = load_mnist(data_path, log=_log)
    training = load_expanded_training(mnist, log=_log) if spec.data.expanded else mnist.training
    if spec.data.train_size is not None:
        training = training.first(spec.data.train_size)
    return {"training": training, "validation": mnist.validation, "test": mnist.test}


def _run_header(spec: Spec, args, splits, start_note: str) -> str:
    network, training = spec.network, spec.training
    regularizer = (
        "no regularisation"
        if training.regularizer == "none"
        else f"{training.regularizer.upper()} lambda {training.lmbda:g}"
    )
    return (
        f"{spec.name}: sizes {network.layout}, {network.cost} cost, {network.init} init, "
        f"eta {training.eta:g}, mini-batch {training.batch_size}, {regularizer}, {training.dtype}\n"
        f"backend {args.backend} on {args.device}, seed {args.seed} ({args.rng} streams), "
        f"{len(splits['training']):,} training images, "
        f"{training.epochs} epochs{start_note}"
        + (f", saving every epoch in {args.checkpoint_dir}" if args.checkpoint_dir else "")
    )


def _summary(spec: Spec, history) -> str:
    best = history.best_validation
    line = (
        f"best validation accuracy {100 * best.validation_accuracy:.2f}% at epoch {best.epoch}; "
        f"test accuracy there {100 * best.test_accuracy:.2f}%; best test accuracy "
        f"{100 * max(r.test_accuracy for r in history.records):.2f}% ({history.stop_reason})"
    )
    if spec.book is not None:
        line += f"\nthe book reports {spec.book.accuracy:g}% {spec.book.metric.replace('_', ' ')}"
        if spec.book.note:
            line += f" ({spec.book.note})"
    return line


class _ConsoleReporter:
    """A progress bar over mini-batches on stderr, and one line per epoch on stdout."""

    def __init__(self, show_progress: bool, prefix: str = ""):
        self.show_progress = show_progress
        self.prefix = prefix  # before each line: which member of an ensemble
        self.bar = None

    def epoch_started(self, epoch: int, n_steps: int) -> None:
        if self.show_progress:
            from tqdm import tqdm

            self.bar = tqdm(
                total=n_steps, desc=f"{self.prefix}epoch {epoch}", unit="batch", leave=False, mininterval=0.25
            )

    def step(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def epoch_finished(self, record: EpochRecord, last_epoch: int) -> None:
        self.close_bar()
        print(
            f"{self.prefix}epoch {record.epoch:3d}/{last_epoch}: validation {100 * record.validation_accuracy:6.2f}%  "
            f"test {100 * record.test_accuracy:6.2f}%  {_training_cost(record)}({record.seconds:.2f} s)",
            flush=True,
        )

    def note(self, message: str) -> None:
        print(f"{self.prefix}{message}", flush=True)

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _training_cost(record: EpochRecord) -> str:
    """'training cost 0.0431  ', or nothing where the spec does not evaluate the training set."""
    return "" if record.training_cost is None else f"training cost {record.training_cost:.4f}  "


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise NndlError("--plot needs matplotlib: pip install 'nndl[plot]'") from None


def _plot(spec: Spec, records: list[EpochRecord], path: Path, overwrite: bool, layer_speeds=None) -> None:
    """Accuracy and cost per epoch, side by side, like the book's chapter 3 figures; and with
    --layer-speeds, chapter 5's speed of learning beside them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [r.epoch for r in records]
    panels = 3 if layer_speeds else 2
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4))
    accuracy, cost = axes[:2]
    evaluated = ("training", "validation", "test") if spec.training.evaluate_training_set else ("validation", "test")
    for name in evaluated:
        accuracy.plot(epochs, [100 * getattr(r, f"{name}_accuracy") for r in records], label=name)
        cost.plot(epochs, [getattr(r, f"{name}_cost") for r in records], label=name)
    accuracy.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{spec.name}: accuracy")
    cost.set(xlabel="epoch", ylabel="cost", title=f"{spec.name}: cost")
    if layer_speeds:
        plot_layer_speeds(axes[2], layer_speeds)
    for panel in axes:
        panel.legend()
        panel.grid(alpha=0.3)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    plt.close(figure)
    write_atomically(path, lambda f: f.write(image.getvalue()), overwrite)


if __name__ == "__main__":
    sys.exit(main())
