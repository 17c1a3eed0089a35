"""`nndl conform --seeds A-B`: the conformance matrix at every seed of a range, and each check's worst seed.

A seed draws other initial parameters, batches and dropout masks (conformance.data.streams), so a
statement over many seeds ("over 100 seeds, float64 gradients never differ by more than ...") is
one run of the matrix per seed (`seed_report`, one task each on a cluster), added up here.

Bounds differ by seed (an epoch is held to the run's own rounding sensitivity), so the worst case
of a check is the seed where its value comes nearest its bound: the largest value / bound. A check
that is n/a, or chaotic at a seed (conformance.suite.tolerances.chaotic), gives no verdict there
and is counted apart; the sweep conforms where every seed's run conforms, and a seed whose run
could not finish (its error in one line) makes it no verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from conformance.data import mnist
from conformance.spec.errors import NndlError
from conformance.suite import report
from conformance.suite.engine import TIMEOUT, conform
from conformance.suite.results import finite_or_none

KEY = ("case", "check", "pair", "dtype")  # what names one check in every seed's run


def parse_seeds(text: str) -> list[int]:
    """--seeds A-B (both included) or A: the seeds, in order."""
    first, dash, last = text.partition("-")
    try:
        seeds = list(range(int(first), int(last if dash else first) + 1))
    except ValueError:
        raise NndlError(f"--seeds {text!r}: give a range of seeds, A-B (both included), or one seed") from None
    if not seeds:
        raise NndlError(f"--seeds {text!r}: the range is empty (the first seed is after the last)")
    return seeds


def seed_report(
    mode: str,
    backends: list[str] | None,
    data: str | None,
    device: str,
    case_patterns: list[str],
    timeout: float | None,
    seed: int,
) -> dict:
    """One seed's run of the matrix, as `nndl conform --json` writes it (strict JSON: it crosses to the client)."""
    outcome = conform(backends, mode, case_patterns, seed, device, data, log=mnist.silent, timeout=timeout or TIMEOUT)
    return report.to_json(outcome)


def ratio(row: dict) -> float:
    """How near a seed's result came to its bound: value / bound (inf for a result with no value, an error)."""
    value, bound = row["value"], row["bound"]
    if value is None or bound is None:
        return math.inf
    if bound == 0:
        return 0.0 if value == 0 else math.inf
    return value / bound


@dataclass
class Worst:
    """One check over the seeds: the seed where it came nearest its bound, and how many seeds each way."""

    row: dict  # that seed's result, as its run's JSON has it
    seed: int
    passed: int = 0
    failed: list[int] = field(default_factory=list)
    chaotic: list[int] = field(default_factory=list)
    not_applicable: list[int] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return ratio(self.row)

    def to_dict(self) -> dict:
        return {
            **self.row,
            "seed": self.seed,
            "value_over_bound": finite_or_none(self.ratio),
            "seeds_passed": self.passed,
            "seeds_failed": self.failed,
            "seeds_chaotic": self.chaotic,
            "seeds_not_applicable": self.not_applicable,
        }


@dataclass
class SeedSweep:
    """Every seed's run of the matrix (its JSON), and the seeds whose run did not finish (one line each)."""

    mode: str
    reports: dict[int, dict]
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def seeds(self) -> list[int]:
        return sorted([*self.reports, *self.errors])

    @property
    def conforms(self) -> bool:
        return not self.errors and all(run["conforms"] for run in self.reports.values())

    def worst(self) -> list[Worst]:
        """Each check's worst seed, the checks ranked from the nearest their bound (failures first)."""
        checks: dict[tuple, Worst] = {}
        for seed, run in sorted(self.reports.items()):
            for row in run["results"]:
                checks[tuple(row[k] for k in KEY)] = _worse(checks.get(tuple(row[k] for k in KEY)), row, seed)
        return sorted(checks.values(), key=lambda worst: (_kind(worst), -worst.ratio))

    def counts(self) -> dict[str, int]:
        """Over every seed: the checks that ran (with a verdict), failed, were chaotic, or n/a."""
        rows = [row for run in self.reports.values() for row in run["results"]]
        return {
            "checks": sum(row["passed"] is not None for row in rows),
            "failed": sum(row["passed"] is False for row in rows),
            "chaotic": sum(bool(row.get("chaotic")) for row in rows),
            "not_applicable": sum(bool(row["not_applicable"]) for row in rows),
        }


def _worse(worst: Worst | None, row: dict, seed: int) -> Worst:
    """`worst` with `row` (at `seed`) counted in, and in its place where it came nearer its bound. A result
    with a verdict always outranks one that is chaotic or n/a, which only stands in until one comes."""
    if worst is None:
        worst = Worst(row, seed)
    elif _stands_before(row, worst.row):
        worst.row, worst.seed = row, seed
    if row["not_applicable"]:
        worst.not_applicable.append(seed)
    elif row.get("chaotic"):
        worst.chaotic.append(seed)
    elif row["passed"]:
        worst.passed += 1
    else:
        worst.failed.append(seed)
    return worst


def _stands_before(row: dict, shown: dict) -> bool:
    """Whether `row` shows its check better than `shown` does: a verdict before none, a chaotic run's
    figures before an n/a, and among the same kind the value nearer its bound."""
    if _verdict(row) != _verdict(shown):
        return _verdict(row)
    if bool(row.get("chaotic")) != bool(shown.get("chaotic")):
        return bool(row.get("chaotic"))
    return ratio(row) > ratio(shown)


def _verdict(row: dict) -> bool:
    return row["passed"] is not None


def _kind(worst: Worst) -> int:
    """The order of the table: failed, then passed, then chaotic at every seed it ran, then n/a at every seed."""
    if worst.failed:
        return 0
    if _verdict(worst.row):
        return 1
    return 2 if worst.row.get("chaotic") else 3


def table(sweep: SeedSweep, wide: bool = False) -> str:
    """The sweep as text: each check's worst seed, ranked by value / bound, then what ran and the verdict."""
    seeds = sweep.seeds
    lines = [
        (
            f"conformance over seeds {_seed_range(seeds)} (--{sweep.mode}, {len(seeds)} seeds): each check at its "
            "worst seed, the one nearest its bound (value / bound), failures first"
        ),
        "",
        f"{'value/bound':>11s} {'value':>8s} {'bound':>8s} {'seed':>5s}  {'seeds':13s} check",
    ]
    lines += [_row(worst, wide) for worst in sweep.worst()]
    return "\n".join([*lines, "", *_summary(sweep)])


def _row(worst: Worst, wide: bool) -> str:
    row = worst.row
    name = (
        f"{row['case']}, {row['check']}, {row['pair']}"
        if wide
        else f"{report.short_case(row['case'])} {report.short_check(row['check'])} {report.short_pair(row['pair'])}"
    )
    if not _verdict(row) and not row.get("chaotic"):
        return f"{'n/a':>11s} {'':>8s} {'':>8s} {'':>5s}  {'':13s} {name}"
    figures = (
        f"{_figure(worst.ratio, '.2f'):>11s} {_figure(row['value'], '.1e'):>8s} {_figure(row['bound'], '.1e'):>8s}"
    )
    return f"{figures} {worst.seed:>5d}  {_tally(worst):13s} {name}"


def _figure(value: float | None, form: str) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, form)


def _tally(worst: Worst) -> str:
    """'2 ok', '1 FAIL 1 ok', '1 ok 1 chaos': how many seeds each way."""
    parts = [f"{len(worst.failed)} FAIL"] if worst.failed else []
    parts += [f"{worst.passed} ok"] if worst.passed else []
    parts += [f"{len(worst.chaotic)} chaos"] if worst.chaotic else []
    parts += [f"{len(worst.not_applicable)} n/a"] if worst.not_applicable else []
    return " ".join(parts)


def _summary(sweep: SeedSweep) -> list[str]:
    counts, lines = sweep.counts(), []
    for seed, error in sorted(sweep.errors.items()):
        lines.append(f"seed {seed} did not finish: {error}")
    for seed, run in sorted(sweep.reports.items()):
        if not run["conforms"]:
            why = f"{run['failed']} failed" if run["failed"] else "not a verdict: " + "; ".join(run["not_run"])
            lines.append(f"seed {seed}: {why}")
    lines.append(
        f"neither passed nor counted: {counts['chaotic']} chaotic at their seed, {counts['not_applicable']} n/a"
    )
    line = f"{counts['checks']} checks ran over {len(sweep.reports)} seeds, {counts['failed']} failed"
    if sweep.conforms:
        return [*lines, line + ": every backend conforms at every seed"]
    return [*lines, line + ("; not a verdict" if not counts["failed"] else "")]


def _seed_range(seeds: list[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def to_json(sweep: SeedSweep) -> dict:
    """The sweep as strict JSON: the worst seed of every check, the counts, the verdict, and every seed's run."""
    return {
        "mode": sweep.mode,
        "seeds": sweep.seeds,
        **sweep.counts(),
        "conforms": sweep.conforms,
        "errors": {str(seed): error for seed, error in sweep.errors.items()},
        "worst": [worst.to_dict() for worst in sweep.worst()],
        "per_seed": {str(seed): run for seed, run in sorted(sweep.reports.items())},
    }
