"""nndl's backend-free side: the spec, the data, the runs, the conformance suite and the CLI, in
wings (README, Layout); no torch or jax here, except through the registry.

The Python API, for a notebook or a worker (README, "Python API"):

    from conformance import load_preset, relative_difference, train

    spec = load_preset("ch1-sigmoid-30").with_changes("training", epochs=1)
    runs = {backend: train(spec, backend, seed=0) for backend in ("numpy", "torch")}
    print(relative_difference(runs["torch"].parameters, runs["numpy"].parameters))
"""

from conformance.backend.registry import backend_names
from conformance.book.lesson import lessons
from conformance.run.evaluation import Score, evaluate_checkpoint
from conformance.run.session import TrainedRun, train
from conformance.spec.presets import load_preset, preset_names
from conformance.spec.spec import Spec, load_spec
from conformance.suite.engine import Outcome, conform
from conformance.suite.results import relative_difference

__all__ = [
    "Outcome",
    "Score",
    "Spec",
    "TrainedRun",
    "backend_names",
    "conform",
    "evaluate_checkpoint",
    "lessons",
    "load_preset",
    "load_spec",
    "preset_names",
    "relative_difference",
    "train",
]
