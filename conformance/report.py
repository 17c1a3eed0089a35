"""The conformance report: one table (rows: configurations, columns: pairs of backends), and its JSON."""

from __future__ import annotations

from . import tolerances
from .checks import PERCEPTRON_OUTPUTS
from .engine import Outcome

GROWTH_STEPS = (1, 2, 5, 10, 20, 50, 100)


def table(outcome: Outcome) -> str:
    pairs = list(dict.fromkeys(result.pair for result in outcome.results))
    rows: dict[tuple[str, str], dict] = {}
    for result in outcome.results:
        rows.setdefault((result.case, result.check), {})[result.pair] = result
    if not rows:
        nothing = (
            "no checks ran: with one backend there is no pair to compare, and finite differences "
            "check the reference's float64 gradients only"
        )
        return f"{_heading(outcome)}\n{nothing}"
    case_width = max(len(case) for case, _ in rows) + 2
    check_width = max(len(check) for _, check in rows) + 2
    lines = [_heading(outcome), "", "tolerance policy:"] + [f"  {line}" for line in tolerances.policy_lines()] + [""]
    lines.append(f"{'configuration':{case_width}s}{'check':{check_width}s}" + "".join(f"{pair:>30s}" for pair in pairs))
    for (case, check), cells in rows.items():
        lines.append(
            f"{case:{case_width}s}{check:{check_width}s}" + "".join(f"{_cell(cells.get(pair)):>30s}" for pair in pairs)
        )
    growth = _growth_lines(outcome)
    if growth:
        lines += ["", "how the difference grows over the first steps of training, and after the epoch:"] + growth
    lines += ["", _summary(outcome)]
    return "\n".join(lines)


def _heading(outcome: Outcome) -> str:
    line = (
        f"nndl conform --{outcome.mode}: backends {', '.join(outcome.backends)} "
        f"(device {outcome.device}, seed {outcome.seed})"
    )
    for name, why in outcome.skipped.items():
        line += f"\n  {name} skipped, not failed: {why}"
    return line


def _cell(result) -> str:
    if result is None:
        return ""
    if result.not_applicable:
        return "n/a"
    counted = result.check in ("correct counts", PERCEPTRON_OUTPUTS)
    value = f"{int(result.value)}" if counted else f"{result.value:.1e}"
    return f"{value} {'ok' if result.passed else 'FAIL'}"


def _growth_lines(outcome: Outcome) -> list[str]:
    epochs = {(r.case, r.pair): r for r in outcome.results if r.check == "one epoch"}
    lines = []
    for result in outcome.results:
        if "per_step" not in result.detail:
            continue
        per_step = result.detail["per_step"]
        points = [f"step {k} {per_step[k - 1]:.1e}" for k in GROWTH_STEPS if k <= len(per_step)]
        if (result.case, result.pair) in epochs:
            epoch = epochs[result.case, result.pair]
            point = f"epoch {epoch.value:.1e}"
            if "rounding_sensitivity" in epoch.detail:
                moved = epoch.detail["rounding_sensitivity"]
                point += (
                    f" (the reference against itself with its initial weights moved 1 ulp: {moved:.1e}; "
                    f"bound {epoch.bound:.1e})"
                )
            points.append(point)
        lines.append(f"  {result.case}, {result.pair}: " + ", ".join(points))
    return lines


def _summary(outcome: Outcome) -> str:
    failures = outcome.failures
    not_applicable = sum(1 for result in outcome.results if result.not_applicable)
    line = f"{len(outcome.results)} checks, {len(failures)} failed"
    if not_applicable:
        line += f", {not_applicable} not applicable (see the JSON's not_applicable)"
    return line + ("" if failures else ": every backend conforms")


def to_json(outcome: Outcome) -> dict:
    return {
        "mode": outcome.mode,
        "backends": outcome.backends,
        "skipped": outcome.skipped,
        "device": outcome.device,
        "seed": outcome.seed,
        "policy": tolerances.policy_lines(),
        "checks": len(outcome.results),
        "failed": len(outcome.failures),
        "results": [result.to_dict() for result in outcome.results],
    }
