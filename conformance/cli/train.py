"""`nndl train`: train a network and report its accuracy per epoch; save, resume, plot."""

from __future__ import annotations

import io
import json
from pathlib import Path

from conformance.cli.console import ConsoleReporter, run_header, summary
from conformance.cli.options import (
    add_backend_options,
    add_spec_options,
    log,
    require_matplotlib,
    spec_from_args,
)
from conformance.data.splits import splits_for
from conformance.run import resume, session
from conformance.run.checkpoint import check_savable, load_checkpoint, save_checkpoint
from conformance.run.layer_speeds import plot as plot_layer_speeds
from conformance.run.training import EpochRecord
from conformance.spec.errors import NndlError
from conformance.spec.files import refuse_to_overwrite, write_atomically
from conformance.spec.spec import Spec
from conformance.speed import fastest


def add_parser(commands) -> None:
    training = commands.add_parser("train", help="train a network and report accuracy per epoch")
    add_spec_options(training, with_load=True)
    add_backend_options(training, with_auto=True)
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
    # --resume takes these from the saved run unless given (conformance.run.session.DEFAULT_SETTINGS else)
    training.set_defaults(run=run, **dict.fromkeys(resume.RUN_SETTINGS))


def run(args) -> None:
    _check_resume_options(args)
    spec = spec_from_args(args, *_carried_spec(args))
    _check_outputs(args, spec)
    if args.remeasure and args.backend != "auto":
        raise NndlError("--remeasure goes with --backend auto")
    backend, data = args.backend, args.data
    if backend == "auto":
        data = splits_for(spec, args.data, log)
        device = args.device or session.DEFAULT_SETTINGS["device"]
        choice = fastest.fastest_backend(spec, data["training"], device, log, args.remeasure)
        log(choice.describe(spec, device))
        backend = choice.backend  # from here on, the run is the one `--backend CHOSEN` would make

    def print_header(plan: session.Plan) -> None:
        n_training = len(plan.splits["training"])
        print(run_header(plan.spec, plan.settings, n_training, plan.start.note, args.checkpoint_dir))

    reporter = ConsoleReporter(show_progress=not args.quiet)
    try:
        trained = session.train(
            spec,
            backend,
            seed=args.seed,
            rng=args.rng,
            device=args.device,
            data=data,
            load=args.load,
            checkpoint_dir=args.checkpoint_dir or args.resume,
            resume=bool(args.resume),
            allow_changes=args.allow_changes,
            layer_speeds=args.layer_speeds,
            reporter=reporter,
            on_start=print_header,
            log=log,
        )
    except KeyboardInterrupt:
        reporter.close_bar()
        raise
    _finish(args, trained)


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


def _carried_spec(args) -> tuple[Spec | None, str]:
    """The spec the resumed run or the --load checkpoint carries, and where it was read."""
    if args.resume:
        return resume.load_run(Path(args.resume)).spec, args.resume
    if args.load:
        return load_checkpoint(args.load).spec, args.load
    return None, ""


def _check_outputs(args, spec: Spec) -> None:
    """Refuse --save, --json and --plot before training rather than after it."""
    for path in (args.save, args.json, args.plot):
        if path:
            refuse_to_overwrite(Path(path), args.overwrite)
    if args.save:
        check_savable(Path(args.save), spec)
    if args.plot:
        require_matplotlib()


def _finish(args, trained: session.TrainedRun) -> None:
    """Sum the run up, and write what --save, --json and --plot ask for."""
    print(summary(trained.spec, trained.history))
    record = trained.record()
    if args.save:
        save_checkpoint(args.save, trained.spec, trained.parameters, trained.checkpoint_metadata(), args.overwrite)
        print(f"saved the parameters after epoch {trained.epochs_trained} to {args.save}")
    if args.json:
        text = json.dumps(record, indent=2)
        write_atomically(Path(args.json), lambda f: f.write(text.encode()), args.overwrite)
    if args.plot:
        records = trained.history.records
        _plot(trained.spec, records, Path(args.plot), args.overwrite, record.get("layer_speeds"))


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
