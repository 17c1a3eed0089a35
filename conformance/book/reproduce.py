"""`nndl reproduce`: the book's protocol for one preset, and the results table made from its files.

The book reports the best of three runs. `reproduce` trains the preset with seeds S, S+1, S+2
(through the shared epoch loop, one backend), reads the book's metric from each run, and
reports the best run as the book does, with the mean and the spread of the runs beside it.

It writes, in its folder:
- runs/PRESET-seedS.json, each run as `nndl train --json` writes it. A run whose file is
  there already (same spec, backend and seed) is read, not trained again, so a reproduction
  that was stopped goes on where it was.
- RUNS_DIR/PRESET-seedS/last.npz (RUNS_DIR is runs/ unless given), each run's state after its
  last complete epoch (conformance/run/resume.py): a run stopped part-way, or whose worker died,
  goes on from there, and ends bitwise as the run left alone.
- PRESET.json and PRESET.md: the book's figure, ours (the best run), the difference, the mean
  and the spread.

Each run is one call of `train_seed`, a module-level function, so that a sweep can run the
runs as tasks on a Dask cluster (conformance/cluster): the workers train, and only this module,
in the client, writes the files.

The README's results table is made from the PRESET.json files (`results_table`), between two
marker comments (`update_readme`), never typed by hand. A reproduction whose epochs or training
images are not the preset's (`nndl reproduce --epochs 5`) is not the book's protocol: its
PRESET.json says so (`changes_from_preset`), and the table refuses it.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from conformance.run.resume import STATE_FILE, finished, load_run
from conformance.run.session import TrainedRun, train_in_folder
from conformance.spec.errors import NndlError
from conformance.spec.files import write_atomically
from conformance.spec.presets import load_preset, preset_names
from conformance.spec.spec import Spec

TABLE_BEGIN = "<!-- nndl reproduce: begin (generated from results/*.json; do not edit) -->"
TABLE_END = "<!-- nndl reproduce: end -->"
METRIC_NAMES = {
    "test_accuracy": "test",
    "validation_accuracy": "validation",
    "test_accuracy_at_best_validation": "test at best validation",
}


def book_metric(spec: Spec, run: dict) -> float:
    """The figure the book quotes for the preset, in percent, from one run's `nndl train --json`:
    the best epoch's test or validation accuracy, or the test accuracy at the best validation epoch."""
    metric = spec.book.metric
    if metric == "test_accuracy_at_best_validation":
        return 100 * run["test_accuracy_at_best_validation"]
    return 100 * max(epoch[metric] for epoch in run["epochs"])


def run_record(trained: TrainedRun) -> dict:
    """One run as `nndl train --json` writes it (shared streams, from the seed's initial draw)."""
    return {**trained.record(), "start": f"initial parameters of seed {trained.settings['seed']}"}


@dataclass(frozen=True)
class SeedRun:
    """What one call of `train_seed` hands back to the client."""

    record: dict  # the run as `nndl train --json` writes it
    resumed_after: int | None  # the last epoch its folder held when the call began (None: none, it began at the seed)


def train_seed(spec: Spec, backend: str, device: str, seed: int, data, folder, progress=None) -> SeedRun:
    """The run of `seed` in `folder` (conformance.run.session.train_in_folder). `data`: the splits, or the
    MNIST file to read them from (None: $NNDL_DATA, the cache or a download)."""
    trained, resumed_after = train_in_folder(spec, backend, seed, device, data, folder, progress)
    return SeedRun(run_record(trained), resumed_after)


def changes_from_preset(spec: Spec) -> list[str]:
    """What makes a reproduction of a preset shorter than the book's protocol: its epochs and its
    training images, where they are not the preset's ([] for a spec that is not a preset)."""
    if spec.name not in preset_names():
        return []
    preset = load_preset(spec.name)
    ours = {"epochs": spec.training.epochs, "train_size": spec.data.train_size}
    theirs = {"epochs": preset.training.epochs, "train_size": preset.data.train_size}
    return [f"{key} {ours[key]} (the preset's {theirs[key]})" for key in ours if ours[key] != theirs[key]]


@dataclass(frozen=True)
class Reproduction:
    """What `reproduce` found: each run's figure, and the book's protocol applied to them."""

    spec: Spec
    backend: str
    device: str
    seeds: list[int]
    figures: list[float]  # the book's metric of each run, in percent, in the order of `seeds`
    ran_on: list[dict | None] = field(default_factory=list)  # each run's record of what it ran on (None: not kept)

    @property
    def best(self) -> float:
        return max(self.figures)

    @property
    def best_seed(self) -> int:
        return self.seeds[self.figures.index(self.best)]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.figures)

    @property
    def spread(self) -> float:
        """The sample standard deviation of the runs' figures (0 for one run)."""
        return statistics.stdev(self.figures) if len(self.figures) > 1 else 0.0

    def to_dict(self) -> dict:
        book = self.spec.book
        return {
            "preset": self.spec.name,
            "net": self.spec.network.layout
            + (f", {self.spec.data.train_size:,} training images" if self.spec.data.train_size else ""),
            "backend": self.backend,
            "device": self.device,
            "metric": book.metric,
            "book": book.accuracy,
            "book_note": book.note,
            "ours": self.best,
            "difference": self.best - book.accuracy,
            "best_seed": self.best_seed,
            "mean": self.mean,
            "spread": self.spread,
            "changes_from_preset": changes_from_preset(self.spec),
            "runs": [
                {"seed": seed, "figure": figure, "ran_on": ran_on}
                for seed, figure, ran_on in itertools.zip_longest(self.seeds, self.figures, self.ran_on)
            ],
        }


def reproduce(
    spec: Spec,
    backend: str,
    device: str,
    data,
    seeds: list[int],
    folder: Path,
    log,
    runs_dir: Path | None = None,
    map_runs=None,
) -> Reproduction:
    """Train (or read back) one run per seed, and write PRESET.json and PRESET.md in `folder`.

    `data`: the splits, or the MNIST file the runs read (None: $NNDL_DATA, the cache or a download).
    Each run trains in runs_dir/PRESET-seedS (runs_dir: folder/runs unless given). `map_runs` (a
    sweep's map, conformance/cluster/sweep.py) trains the runs still to train; without it they train
    here, one after another. A run that fails fails the reproduction, after the others are written.
    """
    if spec.book is None:
        raise NndlError(f"{spec.name}: the spec has no [book] figure to reproduce")
    runs_dir = folder / "runs" if runs_dir is None else runs_dir
    paths = {seed: folder / "runs" / f"{spec.name}-seed{seed}.json" for seed in seeds}
    runs = {seed: _saved(spec, backend, seed, paths[seed], log) for seed in seeds if paths[seed].exists()}
    to_train = [seed for seed in seeds if seed not in runs]
    for seed in to_train:
        log(_plan(spec, backend, seed, runs_dir / f"{spec.name}-seed{seed}"))
    arguments = [(spec, backend, device, seed, data, runs_dir / f"{spec.name}-seed{seed}") for seed in to_train]
    failures = []
    for seed, (run, error) in zip(
        to_train, _train_runs(arguments, [f"{spec.name} seed {seed}" for seed in to_train], device, map_runs)
    ):
        if error is not None:
            failures.append(f"seed {seed}: {error}")
            continue
        if run.resumed_after is not None and run.resumed_after < run.record["epochs"][-1]["epoch"]:
            log(f"{spec.name} seed {seed}: went on after epoch {run.resumed_after}, as saved in {runs_dir}")
        _write(paths[seed], json.dumps(run.record, indent=2))
        runs[seed] = run.record
    if failures:
        raise NndlError(
            f"{spec.name}: {len(failures)} of {len(seeds)} runs failed ({'; '.join(failures)}); "
            "the others are saved, and the same command goes on with them"
        )
    figures = [book_metric(spec, runs[seed]) for seed in seeds]
    for seed, figure in zip(seeds, figures):
        log(f"{spec.name} seed {seed}: {figure:.2f}% ({METRIC_NAMES[spec.book.metric]})")
    ran_on = [
        runs[seed].get("ran_on") for seed in seeds
    ]  # runs recorded before records said what they ran on have none
    result = Reproduction(spec, backend, device, seeds, figures, ran_on)
    summary = result.to_dict()
    _write(folder / f"{spec.name}.json", json.dumps(summary, indent=2) + "\n")
    _write(folder / f"{spec.name}.md", markdown(summary) + "\n")
    return result


def _plan(spec: Spec, backend: str, seed: int, run_folder: Path) -> str:
    """What the run of `seed` is about to do: train from its seed, or go on with the run saved in its folder."""
    if (run_folder / STATE_FILE).exists():
        saved = load_run(run_folder)
        if finished(saved, spec) is not None:
            return f"{spec.name} seed {seed}: trained already (epoch {saved.last_saved_epoch}), in {run_folder}"
        return f"{spec.name} seed {seed}: going on after epoch {saved.last_saved_epoch} saved in {run_folder}"
    return f"{spec.name} seed {seed}: training ({spec.training.epochs} epochs, backend {backend}) in {run_folder}"


def _train_runs(arguments: list[tuple], names: list[str], device: str, map_runs) -> list[tuple]:
    """(SeedRun, None) or (None, the error in one line) for each run: trained by `map_runs`, else here."""
    if map_runs is None:
        return [(train_seed(*each), None) for each in arguments]
    resources = {"GPU": 1} if device.startswith("cuda") else None  # a CPU run needs no worker resource
    results = map_runs(train_seed, arguments, names, resources=resources, progress=True)
    return [(result.value, result.error) for result in results]


def _saved(spec: Spec, backend: str, seed: int, path: Path, log) -> dict:
    """The finished run of `seed` saved at `path`, if it is a run of this spec, backend and seed."""
    run = json.loads(path.read_text())
    if run["spec"] != spec.to_dict() or run["backend"] != backend or run["seed"] != seed:
        raise NndlError(f"{path} holds another run (its spec, backend or seed differ); move it away first")
    log(f"{spec.name} seed {seed}: read from {path}")
    return run


def _write(path: Path, text: str) -> None:
    write_atomically(path, lambda f: f.write(text.encode()), overwrite=True)


def markdown(summary: dict) -> str:
    """One preset's reproduction as a Markdown table: the book's figure, ours, the difference, the runs."""
    runs = ", ".join(f"{run['figure']:.2f}% (seed {run['seed']})" for run in summary["runs"])
    return "\n".join(
        [
            f"# {summary['preset']}: {summary['net']}",
            "",
            (
                f"The book's metric: {METRIC_NAMES[summary['metric']]} accuracy, best of {len(summary['runs'])} "
                f"runs (backend {summary['backend']}, {summary['device']})."
            ),
            "",
            "| the book | ours (best run) | difference | mean | spread (sd) |",
            "|---|---|---|---|---|",
            (
                f"| {summary['book']:.2f}% | {summary['ours']:.2f}% | {summary['difference']:+.2f} | "
                f"{summary['mean']:.2f}% | {summary['spread']:.2f} |"
            ),
            "",
            f"Runs: {runs}.",
        ]
    )


def results_table(folder: Path) -> str:
    """The README's table: one row per PRESET.json in `folder`, in the presets' order."""
    order = {name: index for index, name in enumerate(preset_names())}
    paths = sorted(folder.glob("*.json"), key=lambda path: order.get(path.stem, len(order)))
    if not paths:
        raise NndlError(f"{folder} holds no results (PRESET.json from `nndl reproduce`)")
    lines = [
        "| preset | net | the book | ours, best of the runs | difference | mean | spread (sd) | runs | backend |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for path in paths:
        summary = json.loads(path.read_text())
        if summary.get("changes_from_preset"):
            raise NndlError(
                f"{path} is not the book's protocol ({', '.join(summary['changes_from_preset'])}): "
                "it stays out of the results table; move it away"
            )
        lines.append(
            f"| `{summary['preset']}` | {summary['net']} | {summary['book']:.2f}% {METRIC_NAMES[summary['metric']]} "
            f"| **{summary['ours']:.2f}%** | {summary['difference']:+.2f} | {summary['mean']:.2f}% "
            f"| {summary['spread']:.2f} | {len(summary['runs'])} | {summary['backend']} |"
        )
    return "\n".join(lines)


def update_readme(readme: Path, folder: Path) -> None:
    """Replace what lies between the README's two marker lines with `results_table(folder)`."""
    text = readme.read_text()
    begin, end = text.find(TABLE_BEGIN), text.find(TABLE_END)
    if begin < 0 or end < begin:
        raise NndlError(
            f"{readme} has no results markers: put the lines {TABLE_BEGIN} and {TABLE_END} around the table"
        )
    table = results_table(folder)
    new = text[: begin + len(TABLE_BEGIN)] + "\n" + table + "\n" + text[end:]
    write_atomically(readme, lambda f: f.write(new.encode()), overwrite=True)
