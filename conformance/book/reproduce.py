"""`nndl reproduce`: the book's protocol for one preset, and the results table made from its files.

The book reports the best of three runs. `reproduce` trains the preset with seeds S, S+1, S+2
(through the shared epoch loop, one backend), reads the book's metric from each run, and
reports the best run as the book does, with the mean and the spread of the runs beside it.

It writes, in its folder:
- runs/PRESET-seedS.json, each run as `nndl train --json` writes it. A run whose file is
  there already (same spec, backend and seed) is read, not trained again, so a reproduction
  that was stopped goes on where it was.
- PRESET.json and PRESET.md: the book's figure, ours (the best run), the difference, the mean
  and the spread.

The README's results table is made from the PRESET.json files (`results_table`), between two
marker comments (`update_readme`), never typed by hand.
"""

from __future__ import annotations

import itertools
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from conformance.run.session import TrainedRun, train
from conformance.spec.errors import NndlError
from conformance.spec.files import write_atomically
from conformance.spec.presets import preset_names
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
            "runs": [
                {"seed": seed, "figure": figure, "ran_on": ran_on}
                for seed, figure, ran_on in itertools.zip_longest(self.seeds, self.figures, self.ran_on)
            ],
        }


def reproduce(spec: Spec, backend: str, device: str, splits: dict, seeds: list[int], folder: Path, log) -> Reproduction:
    """Train (or read back) one run per seed, and write PRESET.json and PRESET.md in `folder`."""
    if spec.book is None:
        raise NndlError(f"{spec.name}: the spec has no [book] figure to reproduce")
    figures, ran_on = [], []
    for seed in seeds:
        run = _run(spec, backend, device, splits, seed, folder / "runs" / f"{spec.name}-seed{seed}.json", log)
        figures.append(book_metric(spec, run))
        ran_on.append(run.get("ran_on"))  # runs recorded before records said what they ran on have none
        log(f"{spec.name} seed {seed}: {figures[-1]:.2f}% ({METRIC_NAMES[spec.book.metric]})")
    result = Reproduction(spec, backend, device, seeds, figures, ran_on)
    summary = result.to_dict()
    _write(folder / f"{spec.name}.json", json.dumps(summary, indent=2) + "\n")
    _write(folder / f"{spec.name}.md", markdown(summary) + "\n")
    return result


def _run(spec: Spec, backend: str, device: str, splits: dict, seed: int, path: Path, log) -> dict:
    """The run of `seed`: read from `path` if a finished run of this spec, backend and seed is there, else trained."""
    if path.exists():
        run = json.loads(path.read_text())
        if run["spec"] != spec.to_dict() or run["backend"] != backend or run["seed"] != seed:
            raise NndlError(f"{path} holds another run (its spec, backend or seed differ); move it away first")
        log(f"{spec.name} seed {seed}: read from {path}")
        return run
    log(f"{spec.name} seed {seed}: training ({spec.training.epochs} epochs, backend {backend})")
    run = run_record(train(spec, backend, seed=seed, rng="shared", device=device, data=splits))
    _write(path, json.dumps(run, indent=2))
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
