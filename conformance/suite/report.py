"""The conformance report: one table (rows: configurations, columns: pairs of backends), and its JSON.

The table comes in two views. The default one fits a terminal of WIDTH columns: configuration
names, checks and pairs are abbreviated (a legend names what each abbreviation stands for),
and prose is wrapped. `--wide` prints every name in full, one row per line however long;
`--json` has every number.
"""

from __future__ import annotations

import re
import textwrap
from collections import Counter

from conformance.backend import environment
from conformance.spec.presets import preset_names
from conformance.suite import tolerances
from conformance.suite.engine import Outcome
from conformance.suite.gradients import FINITE_DIFFERENCES
from conformance.suite.perceptrons import PERCEPTRON_OUTPUTS

GROWTH_STEPS = (1, 2, 5, 10, 20, 50, 100)
WIDTH = 100  # the default view's widest line
# what the narrow view writes for a word of a configuration's name, longest first
ABBREVIATIONS = {
    "log_likelihood": "loglik",
    "cross_entropy": "xent",
    "quadratic": "quad",
    "network3": "nw3",
    "dropout": "drop",
    "sigmoid": "sig",
    "linear": "lin",
    "softmax": "smax",
    "default": "dflt",
    "float64": "f64",
    "float32": "f32",
    "images": "img",
}
CHECK_ABBREVIATIONS = {
    "gradient": "grad",
    "one epoch": "epoch",
    "correct counts": "counts",
    "layer speeds": "speeds",
    "members, one epoch": "members",
}


def table(outcome: Outcome, wide: bool = False) -> str:
    """The report: in full (`wide`), or abbreviated to fit WIDTH columns."""
    return wide_table(outcome) if wide else narrow_table(outcome)


def narrow_table(outcome: Outcome) -> str:
    """The table with abbreviated names, a legend for them, and every line at most WIDTH characters.

    Rows that compare the same pairs make one table (the perceptrons have a truth table, an
    ensemble's members are compared with themselves alone); with more pairs than fit beside the
    names (four backends or more), a table's pairs are split into groups, one table each.
    """
    pairs = list(dict.fromkeys(result.pair for result in outcome.results))
    rows: dict[tuple[str, str], dict] = {}
    for result in outcome.results:
        rows.setdefault((short_case(result.case), short_check(result.check)), {})[result.pair] = result
    if not rows:
        return _wrap(wide_table(outcome))
    lines = [_heading(outcome), "", "tolerance policy:"] + [f"  {line}" for line in tolerances.policy_lines()]
    lines += ["", *_legend(outcome, pairs)]
    for section_pairs, section_rows in _sections(rows, pairs):
        lines += _section_lines(section_pairs, section_rows)
    growth = _growth_lines(outcome, short=True)
    if growth:
        lines += ["", "how the difference grows over the first steps of training, and after the epoch:"] + growth
    lines += _explanations(outcome) + ["", _summary(outcome)]
    return _wrap("\n".join(lines))


def _sections(rows: dict, pairs: list[str]) -> list[tuple[list[str], dict]]:
    """The rows grouped by the pairs they compare, in the order they first come, each group with its pairs."""
    sections: dict[frozenset, dict] = {}
    for key, cells in rows.items():
        sections.setdefault(frozenset(cells), {})[key] = cells
    return [([pair for pair in pairs if pair in compared], section) for compared, section in sections.items()]


def _section_lines(pairs: list[str], rows: dict) -> list[str]:
    """One section's table(s): as many pairs beside the names as fit in WIDTH, the rest in further tables."""
    headers = {pair: short_pair(pair) for pair in pairs}
    case_width = max(len("configuration"), *(len(case) for case, _ in rows)) + 1
    check_width = max(len("check"), *(len(check) for _, check in rows)) + 1
    cell_width = max(len("9e-99 FAIL"), *(len(header) for header in headers.values())) + 1
    per_table = max(1, (WIDTH - case_width - check_width) // cell_width)
    lines = []
    for first in range(0, len(pairs), per_table):
        group = pairs[first : first + per_table]
        lines.append("")
        lines.append(
            f"{'configuration':{case_width}s}{'check':{check_width}s}"
            + "".join(f"{headers[pair]:>{cell_width}s}" for pair in group)
        )
        for (case, check), cells in rows.items():
            if any(pair in cells for pair in group):
                lines.append(
                    f"{case:{case_width}s}{check:{check_width}s}"
                    + "".join(f"{_cell(cells.get(pair), 0):>{cell_width}s}" for pair in group)
                )
    return lines


def short_case(case: str) -> str:
    """A configuration's name in the narrow view: without its leading 'grad' or 'train' (the check
    says which), the cost without its output layer's activation (the cost implies it), no word
    for the absence of dropout, and every word but a preset's name abbreviated."""
    case = re.sub(r"^ensemble of (\d+):", r"\1 members:", case)
    words = case.split(" ")
    if words[0] in ("grad", "train"):
        words = words[1:]
    presets = set(preset_names())
    kept = [word for word in words if word != "no-dropout"]
    return " ".join(word if word in presets else _abbreviate(word.rpartition("/")[2]) for word in kept)


def _abbreviate(word: str) -> str:
    pattern = "|".join(re.escape(long) for long in ABBREVIATIONS)
    return re.sub(pattern, lambda match: ABBREVIATIONS[match.group(0)], word)


def short_check(check: str) -> str:
    """'grad', '10 steps', 'epoch', 'counts'."""
    return CHECK_ABBREVIATIONS.get(check, check.removeprefix("first "))


def short_pair(pair: str) -> str:
    """'torch/numpy', 'numpy/fd', 'jax ens/alone'."""
    return (
        pair.replace(f" vs {FINITE_DIFFERENCES}", "/fd")
        .replace(" ensemble vs ", " ens/")
        .replace(" vs ", "/")
        .replace("truth table", "truth")
    )


def _legend(outcome: Outcome, pairs: list[str]) -> list[str]:
    """What the abbreviations in this table stand for (those that occur in it)."""
    words = {word for result in outcome.results for word in re.split(r"[ /]", result.case)}
    used = [f"{short} = {long}" for long, short in ABBREVIATIONS.items() if any(long in word for word in words)]
    legend = [
        (
            "columns: a/b is backend a against backend b: the relative difference (one digit; --wide has two) "
            "and whether it is within its bound"
        )
    ]
    if any(FINITE_DIFFERENCES in pair for pair in pairs):
        legend.append("fd = central finite differences (Richardson's)")
    if any(" ensemble vs " in pair for pair in pairs):
        legend.append("x ens/alone = each member of backend x's ensemble trained as one, against it trained alone")
    legend.append(
        "rows: grad = a gradient; N steps = each of the first N SGD steps; epoch = one whole epoch; "
        "counts = the validation and test correct counts after the epoch (or, for a net with dropout "
        "and no epoch, after the steps, on the first 1,000 images of each); speeds = ch. 5's speed of "
        "learning, ||dC/db^l|| of each hidden layer on 1,000 training images, after the steps; outputs = "
        "the perceptrons' output bits that differ; members = an ensemble's members after one epoch"
    )
    if used:
        legend.append("in names: " + ", ".join(used))
    legend.append("every name in full: --wide; every number: --json")
    return legend


def _wrap(text: str) -> str:
    """Lines longer than WIDTH broken at spaces, the continuation indented under the line's own indent."""
    wrapped = []
    for line in text.split("\n"):
        indent = " " * (len(line) - len(line.lstrip(" ")) + 2)
        wrapped += textwrap.wrap(line, WIDTH, subsequent_indent=indent, break_on_hyphens=False) or [""]
    return "\n".join(wrapped)


def wide_table(outcome: Outcome) -> str:
    """The table with every name in full: one row per configuration and check, one column per pair."""
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
    lines += _explanations(outcome) + ["", _summary(outcome)]
    return "\n".join(lines)


def _heading(outcome: Outcome) -> str:
    line = (
        f"nndl conform --{outcome.mode}: backends {', '.join(outcome.backends)} "
        f"(device {outcome.device}, seed {outcome.seed})"
    )
    if outcome.ran_on:
        line += "\n" + environment.summary(outcome.ran_on)
    for name, why in outcome.skipped.items():
        line += f"\n  {name} skipped, not failed: {why}"
    return line


def _cell(result, digits: int = 1) -> str:
    """'3.1e-02 FAIL', with `digits` digits after the point."""
    if result is None:
        return ""
    if result.not_applicable:
        return "n/a"
    if result.error:
        return "error"
    counted = result.check in ("correct counts", PERCEPTRON_OUTPUTS)
    value = f"{int(result.value)}" if counted else f"{result.value:.{digits}e}"
    if result.chaotic:  # the narrow table has no room for its figure: the growth lines give it
        return "chaotic" if digits == 0 else f"{value} chaotic"
    return f"{value} {'ok' if result.passed else 'FAIL'}"


def _growth_lines(outcome: Outcome, short: bool = False) -> list[str]:
    epochs = {(r.case, r.pair): r for r in outcome.results if r.check == "one epoch"}
    lines = []
    for result in outcome.results:
        if "per_step" not in result.detail:
            continue
        per_step = result.detail.get("free_running", result.detail["per_step"])
        points = [f"step {k} {per_step[k - 1]:.1e}" for k in GROWTH_STEPS if k <= len(per_step)]
        if (result.case, result.pair) in epochs:
            epoch = epochs[result.case, result.pair]
            point = f"epoch {epoch.value:.1e}"
            if "rounding_sensitivity" in epoch.detail:
                moved, runs = epoch.detail["rounding_sensitivity"], len(epoch.detail.get("perturbed_runs", ()))
                how = f"the most of {runs} runs moved 1 ulp" if runs > 1 else "its initial weights moved 1 ulp"
                point += f" (the reference against itself, {how}: {moved:.1e}; bound {epoch.bound:.1e})"
            points.append(point)
        points += [_tie_flip_point(flip) for flip in result.detail.get("tie_flips", ())]
        case, pair = (short_case(result.case), short_pair(result.pair)) if short else (result.case, result.pair)
        lines.append(f"  {case}, {pair}: " + ", ".join(points))
    return lines


def _tie_flip_point(flip: dict) -> str:
    """'a tie flip at step 40: 1 max-pool window, 1.7e-04 -> 3.0e-06' (the step's difference, without and with it)."""
    count = len(flip["windows"])
    windows = "1 max-pool window" if count == 1 else f"{count} max-pool windows"
    return f"a tie flip at step {flip['step']}: {windows}, {flip['difference']:.1e} -> {flip['with_the_flips']:.1e}"


def _explanations(outcome: Outcome) -> list[str]:
    """--explain's lines, under a heading each; none without --explain, failures or partings."""
    lines = []
    if outcome.explanations:
        lines += ["", "where the failing checks part (layers numbered from the input; layer 1 has the first weights):"]
        lines += [f"  {line}" for line in outcome.explanations]
    if outcome.partings:
        lines += ["", "where free-running runs part while every check of the pair passes (rounding, not failures):"]
        lines += [f"  {line}" for line in outcome.partings]
    return lines


def _summary(outcome: Outcome) -> str:
    """What ran and what came of it: the failed checks' errors, the n/a reasons grouped, then the verdict."""
    ran, failures = len(outcome.ran), len(outcome.failures)
    lines = []
    errors = list(dict.fromkeys(result.error for result in outcome.failures if result.error))
    if errors:
        lines += ["a backend's method failed these checks (--traceback shows where):"]
        lines += [f"  {error}" for error in errors]
    reasons = Counter(result.not_applicable for result in outcome.results if result.not_applicable)
    if reasons:
        lines += ["not applicable, so neither passed nor counted:"]
        lines += [f"  {count} {_plural(count, 'check')}: {reason}" for reason, count in reasons.items()]
    reasons = Counter(result.chaotic for result in outcome.chaotic)
    if reasons:
        lines += ["chaotic at this seed, so shown but neither passed nor counted:"]
        lines += [f"  {count} {_plural(count, 'check')}: {reason}" for reason, count in reasons.items()]
    line = f"{ran} {_plural(ran, 'check')} ran, {failures} failed"
    if outcome.conforms:
        line += ": every backend conforms"
    elif not failures:
        line += "; not a verdict: " + "; ".join(outcome.not_run)
    return "\n".join([*lines, line])


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def to_json(outcome: Outcome) -> dict:
    return {
        "mode": outcome.mode,
        "backends": outcome.backends,
        "skipped": outcome.skipped,
        "device": outcome.device,
        "seed": outcome.seed,
        "ran_on": outcome.ran_on,
        "policy": tolerances.policy_lines(),
        "checks": len(outcome.ran),  # those that ran
        "failed": len(outcome.failures),
        "not_applicable": sum(1 for result in outcome.results if result.not_applicable),
        "chaotic": len(outcome.chaotic),
        "conforms": outcome.conforms,
        "not_run": outcome.not_run,
        "results": [result.to_dict() for result in outcome.results],
        "explanations": outcome.explanations,
        "partings": outcome.partings,
    }
