"""What every check of the suite shares: a `Result`, the relative difference it measures, the pairs of
backends it compares, and the device each backend runs on.

Each check runs one configuration in every backend from the same parameters, the same batch and the
same dropout masks (all drawn from the shared streams), then compares every pair of backends. What
comes out is a list of `Result`s, one per (configuration, check, pair), each with the worst relative
difference found and the bound it is held to (conformance.suite.tolerances). The checks themselves:
conformance.suite.perceptrons, .gradients, .trajectories and .ensembles.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from conformance.backend.registry import REFERENCE


@dataclass(frozen=True)
class Result:
    case: str  # the configuration
    check: str  # what was compared: "gradient", "first steps", "one epoch", "correct counts"
    pair: str  # "torch vs numpy", or "numpy vs finite differences"
    dtype: str
    value: float  # the worst relative difference (for correct counts: the largest count difference)
    bound: float
    detail: dict = field(default_factory=dict)
    not_applicable: str = ""  # why this check could say nothing here (neither passed nor failed)
    chaotic: str = ""  # why it ran but says nothing at this seed (tolerances.chaotic): neither passed nor failed

    @property
    def verdict(self) -> bool:
        """Whether the check can pass or fail: it ran (not n/a), and its run is not chaotic at this seed."""
        return not self.not_applicable and not self.chaotic

    @property
    def passed(self) -> bool:
        """Whether the check gave a verdict and its difference is within its bound."""
        return self.verdict and bool(np.isfinite(self.value) and self.value <= self.bound)

    @property
    def failed(self) -> bool:
        return self.verdict and not self.passed

    @property
    def error(self) -> str:
        """The line that says what a backend's method did, where it raised instead of answering."""
        return self.detail.get("error", "")

    def to_dict(self) -> dict:
        """The result as strict JSON: a number that is not finite is null, with why in `no_value`."""
        record = {
            "case": self.case,
            "check": self.check,
            "pair": self.pair,
            "dtype": self.dtype,
            "value": finite_or_none(self.value),
            "bound": finite_or_none(self.bound),
            "passed": self.passed if self.verdict else None,
            "not_applicable": self.not_applicable,
            "chaotic": self.chaotic,
            **strict(self.detail),
        }
        if record["value"] is None:
            record["no_value"] = (
                self.not_applicable
                or self.error
                or f"the difference is {self.value} (a NaN or inf in the arrays compared)"
            )
        return record


def finite_or_none(value):
    """A float that JSON can hold: itself if finite, else None."""
    return float(value) if np.isfinite(value) else None


def strict(value):
    """`value` (dicts, lists, tuples and numbers, nested) with every NaN and infinity replaced by None."""
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return finite_or_none(value)
    return value


def relative_difference(params, reference_params) -> float:
    """max over parameter arrays of ||a - b|| / ||b|| (0 when both are 0, inf when only b is); NaN where an
    array has a NaN (Python's max would pass over it, and a NaN gradient would conform)."""
    worst = 0.0
    for layer, reference_layer in zip(params, reference_params):
        for a, b in zip(layer, reference_layer):
            a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
            difference, size = np.linalg.norm(a - b), np.linalg.norm(b)
            if np.isnan(difference) or np.isnan(size):
                return float("nan")
            worst = max(worst, difference / size if size > 0 else (0.0 if difference == 0 else np.inf))
    return float(worst)


def backend_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(later, earlier) for every pair, the earlier one being the norm: torch vs numpy, jax vs numpy, jax vs torch."""
    return [(later, earlier) for earlier, later in itertools.combinations(names, 2)]


def device_for(backend_name: str, device: str) -> str:
    """The reference always runs on the CPU; the other backends on the device asked for."""
    return "cpu" if backend_name == REFERENCE else device
