"""`nndl evaluate`: the accuracy and cost of a checkpoint on the validation and test sets."""

from __future__ import annotations

from conformance.cli.options import add_backend_options, add_data_option, log
from conformance.data.splits import fitting_mnist
from conformance.run.evaluation import evaluate_checkpoint
from conformance.spec.presets import load_preset
from conformance.spec.spec import load_spec


def add_parser(commands) -> None:
    evaluate = commands.add_parser("evaluate", help="accuracy and cost of a checkpoint on validation and test data")
    evaluate.add_argument("checkpoint", help="an .npz checkpoint (or the book's .json with --preset/--spec)")
    evaluate.add_argument("--preset", help="the network of a .json checkpoint")
    evaluate.add_argument("--spec", metavar="FILE", help="the network of a .json checkpoint")
    add_backend_options(evaluate)
    add_data_option(evaluate)
    evaluate.set_defaults(run=run)


def run(args) -> None:
    spec = None
    if args.preset or args.spec:
        named = load_preset(args.preset) if args.preset else load_spec(args.spec)
        spec = fitting_mnist(named, args.preset or args.spec)
    for score in evaluate_checkpoint(args.checkpoint, spec, args.backend, args.device, args.data, log):
        print(
            f"{score.split:10s} {score.correct:6d} / {score.size}  ({100 * score.accuracy:.2f}%)  cost {score.cost:.4f}"
        )
