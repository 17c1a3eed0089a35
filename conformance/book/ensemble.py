"""`nndl ensemble`: k networks trained from seeds seed, seed + 1, ..., and their plurality vote.

Chapter 6 ends its best result with an ensemble: five networks of the same design, each put to
the test images, and each image given the class most of them chose (99.67%, 33 errors). Here
member i trains from seed `seed + i` on the shared streams (so with `shuffle = false`, as in the
chapter 6 presets, every member sees the same order: only the initial weights and the dropout
masks differ, as in the book), or comes from a saved checkpoint (`--from`), of any backend.

With a sweep (`nndl ensemble --workers N` or `--cluster ADDRESS`, conformance/cluster) each member
is one task, `train_member`, that saves its run in its member folder under --runs-dir after every
epoch: a member whose worker died goes on from its last complete epoch on another worker.

The vote: each member names one class per image (its highest output); the ensemble's class is the
one named most often, and a tie goes to the lowest class among the most named ones.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from conformance.data.streams import Parameters
from conformance.run import resume, session
from conformance.run.checkpoint import check_parameters, load_checkpoint
from conformance.run.session import FROM_THE_SEED
from conformance.run.training import Dataset, evaluation_chunk, member_diverged, train_together
from conformance.spec.errors import CheckpointError, DivergenceError, NndlError
from conformance.spec.files import write_atomically
from conformance.spec.spec import Spec

BOOK_VOTE = (
    "the book's vote of 5 networks (chapter 6, its best net: expanded data, two dropout FC layers): 99.67%, 33 errors"
)
ERRORS_GRID_COLUMNS = 11  # the book's figure of its 33 errors is 3 rows of 11
ERRORS_GRID_LIMIT = 99  # images in the grid at most (9 rows): a poor vote's thousands would take minutes to draw


def member_seeds(seed: int, members: int) -> list[int]:
    """Member i's seed: seed + i, for i = 0 .. members - 1."""
    if members < 1:
        raise NndlError(f"--members {members}: an ensemble needs at least 1 member")
    return [seed + i for i in range(members)]


def plurality_vote(predictions: np.ndarray, n_classes: int) -> np.ndarray:
    """The class most members chose for each example; a tie goes to the lowest class among the most chosen.

    `predictions` is (members, examples) of class indices; the result is (examples,).
    """
    votes = np.eye(n_classes, dtype=np.int64)[predictions].sum(axis=0)  # (examples, classes)
    return votes.argmax(axis=1)  # argmax takes the first, so the lowest, of equal counts


def predictions(model, data: Dataset, network) -> np.ndarray:
    """The model's class for every example of a data set, in chunks as conformance.run.training.evaluate does."""
    chunk = evaluation_chunk(network)
    return np.concatenate([model.predict(data.x[start : start + chunk]) for start in range(0, len(data), chunk)])


@dataclass(frozen=True)
class Member:
    origin: str  # "seed 3" or the checkpoint's path
    correct: int


@dataclass(frozen=True)
class Outcome:
    """What the vote came to on one data set."""

    members: list[Member]
    votes: np.ndarray  # the ensemble's class for each example
    labels: np.ndarray

    @property
    def errors(self) -> np.ndarray:
        """The indices of the examples the vote gets wrong."""
        return np.flatnonzero(self.votes != self.labels)

    @property
    def correct(self) -> int:
        return len(self.labels) - len(self.errors)


def vote(backend, spec: Spec, members: Sequence[tuple[str, Parameters]], data: Dataset, labels, device: str) -> Outcome:
    """Each member's classes for a data set, with the backend's inference, and the plurality vote on them."""
    labels = np.asarray(labels)
    chosen, results = [], []
    for origin, params in members:
        classes = predictions(backend.Model(spec, params, device), data, spec.network)
        chosen.append(classes)
        results.append(Member(origin, int(np.count_nonzero(classes == labels))))
    return Outcome(results, plurality_vote(np.stack(chosen), spec.network.layers[-1].size), labels)


def report(outcome: Outcome, what: str = "test") -> str:
    """Each member's accuracy, then the vote's accuracy and error count (the book: 99.67%, 33 errors)."""
    n = len(outcome.labels)
    lines = [
        f"member {i}, {member.origin}: {what} accuracy {100 * member.correct / n:.2f}% ({member.correct} / {n})"
        for i, member in enumerate(outcome.members, start=1)
    ]
    lines.append(
        f"plurality vote of {len(outcome.members)}: {what} accuracy {100 * outcome.correct / n:.2f}% "
        f"({outcome.correct} / {n}), {len(outcome.errors)} errors "
        "(a tie goes to the lowest class among the most voted)"
    )
    return "\n".join(lines)


def to_json(outcome: Outcome, spec: Spec, backend: str, device: str) -> dict:
    n = len(outcome.labels)
    return {
        "spec": spec.to_dict(),
        "backend": backend,
        "device": device,
        "tie_rule": "the lowest class among the most voted",
        "members": [
            {"origin": member.origin, "test_correct": member.correct, "test_accuracy": member.correct / n}
            for member in outcome.members
        ],
        "vote": {
            "test_correct": outcome.correct,
            "test_accuracy": outcome.correct / n,
            "errors": len(outcome.errors),
            "error_indices": outcome.errors.tolist(),
            "error_votes": outcome.votes[outcome.errors].tolist(),
        },
    }


def plot_errors(images: np.ndarray, outcome: Outcome, path: Path, overwrite: bool) -> None:
    """A grid of the test images the vote gets wrong (the first ERRORS_GRID_LIMIT), each labelled with the
    truth and the vote, like the book's figure of the ensemble's 33 errors (chapter 6)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    errors = outcome.errors[:ERRORS_GRID_LIMIT]
    columns = max(1, min(ERRORS_GRID_COLUMNS, len(errors)))
    rows = max(1, -(-len(errors) // columns))
    figure, grid = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.3 * rows), squeeze=False)
    for axes in grid.flat:
        axes.axis("off")
    for axes, index in zip(grid.flat, errors):
        axes.imshow(images[index].reshape(28, 28), cmap="gray_r")
        axes.set_title(f"{outcome.labels[index]} (vote {outcome.votes[index]})", fontsize=7)
    shown = (
        f"the {len(errors)}"
        if len(errors) == len(outcome.errors)
        else f"the first {len(errors)} of the {len(outcome.errors)}"
    )
    figure.suptitle(f"{shown} test images the plurality vote of {len(outcome.members)} gets wrong", fontsize=9)
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=100)
    plt.close(figure)
    write_atomically(path, lambda f: f.write(image.getvalue()), overwrite)


# -- the members ------------------------------------------------------------------------------


def load_members(paths: Sequence[str], spec: Spec | None) -> tuple[Spec, list[tuple[str, Parameters]]]:
    """The members saved in checkpoints (from any backend), and the spec they share.

    `spec` (from --preset or --spec) names the network where given; else the first checkpoint's
    spec does. Every checkpoint that carries a spec must carry that network.
    """
    checkpoints = [(path, load_checkpoint(path)) for path in paths]
    if spec is None:
        carried = [(path, checkpoint.spec) for path, checkpoint in checkpoints if checkpoint.spec is not None]
        if not carried:
            raise NndlError(
                f"{paths[0]} does not carry a spec (the book's format): name its network with --preset or --spec"
            )
        spec = carried[0][1]
    for path, checkpoint in checkpoints:
        if checkpoint.spec is not None and checkpoint.spec.network != spec.network:
            raise CheckpointError(
                f"{path} holds a network of sizes {checkpoint.spec.network.layout}, not the ensemble's "
                f"{spec.network.layout} ({spec.name}): the members of an ensemble share one network"
            )
        check_parameters(spec.network, checkpoint.params, path)
    return spec, [(path, checkpoint.params) for path, checkpoint in checkpoints]


def member_folder(folder: Path, index: int) -> Path:
    """Where --runs-dir keeps member `index` (0 for the first): the folder of its run, as
    `nndl train --checkpoint-dir` keeps one (its last.npz is an ordinary checkpoint too)."""
    return folder / f"member-{index + 1}"


def saved_members(folder: Path, spec: Spec, seeds: Sequence[int]) -> dict[int, resume.SavedRun]:
    """The members whose runs --runs-dir saved in `folder`, complete or not: index -> its run."""
    saved = {}
    for index, seed in enumerate(seeds):
        run_folder = member_folder(folder, index)
        if not (run_folder / resume.STATE_FILE).exists():
            continue
        run = resume.load_run(run_folder)
        if run.spec != spec or run.settings["seed"] != seed:
            raise CheckpointError(
                f"{run_folder} holds a member of another run (another spec, or a seed other than {seed}); "
                "choose another --runs-dir folder"
            )
        saved[index] = run
    return saved


def trains_together(backend, members: int, one_by_one: bool = False) -> bool:
    """Whether train_members trains these members as one computation: where the backend has an
    `Ensemble`, unless asked to train them one by one (on a CPU, a conv net's members trained
    as one can cost more than one after another: README, Ensembles)."""
    return hasattr(backend, "Ensemble") and members > 1 and not one_by_one


@dataclass(frozen=True)
class Training:
    """How train_members trains an ensemble: on which device, where it saves the members' runs, and
    how it reports each member's epochs (reporter_for(index))."""

    backend: str  # as --backend names it: what a saved member's run records
    device: str
    folder: Path | None
    reporter_for: Callable[[int], object]
    one_by_one: bool = False
    log: Callable[[str], None] = print


def train_members(
    backend, spec: Spec, splits, seeds: Sequence[int], how: Training, saved: dict[int, resume.SavedRun]
) -> list[Parameters]:
    """Each member's parameters after its last epoch, member i from seed seeds[i].

    A member whose run in how.folder (`saved`) is finished is taken from it; those whose runs stopped
    part-way go on from their last complete epoch, as one computation where they all stopped at the
    same epoch and trains_together says so, else alone, as `nndl train --resume` would; the others
    train as one computation where trains_together says so, else one after another. With a folder,
    every member's run is saved there after each of its epochs.
    """
    params, part_trained = {}, {}
    for index, run in saved.items():
        if resume.finished(run, spec) is None:
            how.log(f"member {index + 1} (seed {seeds[index]}): going on after epoch {run.last_saved_epoch}")
            part_trained[index] = run
        else:
            how.log(f"member {index + 1} (seed {seeds[index]}): trained already, in {run.folder}")
            params[index] = run.params
    at_one_epoch = len({run.last_saved_epoch for run in part_trained.values()}) == 1
    if at_one_epoch and trains_together(backend, len(part_trained), how.one_by_one):
        params.update(_train_as_one(backend, spec, splits, seeds, list(part_trained), how, part_trained))
    else:
        params.update(
            {index: _train_alone(spec, splits, seeds, index, how, run) for index, run in part_trained.items()}
        )
    fresh = [index for index in range(len(seeds)) if index not in saved]
    if trains_together(backend, len(fresh), how.one_by_one):
        params.update(_train_as_one(backend, spec, splits, seeds, fresh, how))
    else:
        params.update({index: _train_alone(spec, splits, seeds, index, how) for index in fresh})
    return [params[index] for index in range(len(seeds))]


def _train_as_one(backend, spec: Spec, splits, seeds, indices: list[int], how: Training, saved=None) -> dict:
    """Members `indices` trained as one computation: from their seeds, or (`saved`, every run at the
    same epoch) on from their saved runs. Returns {index: parameters}."""
    resumed = saved is not None
    recorders = [_recorder(spec, seeds[index], how, index, resumed) for index in indices]

    def on_epoch(k, history, model):
        if recorders[k] is not None:
            recorders[k].save(history, model)

    reporters = [how.reporter_for(index) for index in indices]
    done = [(saved[index].params, saved[index].records) for index in indices] if resumed else None
    if resumed:
        how.log(f"members {', '.join(str(index + 1) for index in indices)} go on as one computation")
    member_seeds = [seeds[index] for index in indices]
    together = train_together(backend, spec, splits, member_seeds, reporters, how.device, on_epoch, done)
    return dict(zip(indices, (member_params for _, member_params in together)))


def _train_alone(spec: Spec, splits, seeds, index: int, how: Training, run=None) -> Parameters:
    """One member as a run of its own (conformance.run.session): from its seed, or (`run`) on from
    its saved run, saved in its member folder after every epoch where there is one."""
    folder = member_folder(how.folder, index) if how.folder is not None else None
    try:
        trained = session.train(
            spec,
            how.backend,
            seed=seeds[index],
            rng="shared",
            device=how.device,
            data=splits,
            checkpoint_dir=folder,
            resume=run is not None,
            allow_changes=True,  # saved_members checked the spec and the seed; a member may move backend
            reporter=how.reporter_for(index),
            log=how.log,
        )
    except DivergenceError as error:
        raise member_diverged(error, index, seeds[index]) from None
    return trained.parameters


def _recorder(spec: Spec, seed: int, how: Training, index: int, resumed: bool = False):
    """What saves member `index`'s run in how.folder after every epoch (None without a folder)."""
    if how.folder is None:
        return None
    settings = resume.run_settings(how.backend, how.device, seed, "shared")
    return resume.start_recording(member_folder(how.folder, index), spec, settings, FROM_THE_SEED, 1, resumed)


def train_members_as_tasks(
    map_runs, spec: Spec, data, seeds: Sequence[int], how: Training, saved: dict[int, resume.SavedRun]
) -> list[Parameters]:
    """Each member's parameters after its last epoch, every member not finished in how.folder one task of
    `map_runs` (a sweep's map, conformance/cluster/sweep.py). `data`: the MNIST file the tasks read (None:
    $NNDL_DATA, the cache or a download). A member that fails fails the ensemble, after the others finished."""
    params = {index: run.params for index, run in saved.items() if resume.finished(run, spec) is not None}
    for index in params:
        how.log(f"member {index + 1} (seed {seeds[index]}): trained already, in {saved[index].folder}")
    to_train = [index for index in range(len(seeds)) if index not in params]
    arguments = [
        (spec, how.backend, how.device, seeds[index], index, data, member_folder(how.folder, index))
        for index in to_train
    ]
    names = [f"member {index + 1} (seed {seeds[index]})" for index in to_train]
    resources = {"GPU": 1} if how.device.startswith("cuda") else None  # a CPU member needs no worker resource
    results = map_runs(train_member, arguments, names, resources=resources, progress=True)
    failures = [f"{result.name}: {result.error}" for result in results if result.failed]
    if failures:
        raise NndlError(
            f"{len(failures)} of {len(seeds)} members failed ({'; '.join(failures)}); the others are saved in "
            f"{how.folder}, and the same command goes on with them"
        )
    params.update({index: result.value for index, result in zip(to_train, results)})
    return [params[index] for index in range(len(seeds))]


def train_member(spec: Spec, backend: str, device: str, seed: int, index: int, data, folder, progress=None):
    """Member `index`'s parameters after its last epoch: its run from `seed` in `folder`
    (conformance.run.session.train_in_folder)."""
    try:
        # saved_members checked the spec and the seed; a member may move backend
        trained, _ = session.train_in_folder(spec, backend, seed, device, data, folder, progress, allow_changes=True)
    except DivergenceError as error:
        raise member_diverged(error, index, seed) from None
    return trained.parameters
