"""Chapter 1's perceptrons: every backend's NAND gate and adder of two bits, on every pair of input
bits, against every other backend's and the reference's against the truth table."""

from __future__ import annotations

import numpy as np

from conformance.backend.registry import REFERENCE
from conformance.suite import tolerances
from conformance.suite.matrix import PerceptronCase
from conformance.suite.results import Result, backend_pairs

TRUTH_TABLE = "truth table"
PERCEPTRON_OUTPUTS = "outputs"
BIT_PAIRS = (np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.0, 1.0, 0.0, 1.0]))  # x1, x2: every pair of bits


def perceptron_outputs(backend, x1, x2) -> np.ndarray:
    """A backend's NAND gate and adder on bits x1, x2 (on the CPU): rows NAND, sum, carry, as NumPy."""
    x1, x2 = backend.asarray(x1), backend.asarray(x2)
    return np.array(
        [np.asarray(output) for output in (backend.perceptron.nand(x1, x2), *backend.perceptron.add_bits(x1, x2))]
    )


def truth_table(x1, x2) -> np.ndarray:
    """What NAND, the sum bit (XOR) and the carry bit (AND) of x1 and x2 are: rows NAND, sum, carry."""
    both = x1 * x2
    return np.array([1.0 - both, x1 + x2 - 2.0 * both, both])


def check_perceptrons(case: PerceptronCase, backends: dict) -> list[Result]:
    """Every backend's perceptron outputs against every other's, and the reference's against the truth
    table: the number of the 12 outputs (NAND, sum, carry on 4 input pairs) that differ, which must be 0.
    A backend without the optional `perceptron` module is not applicable, not failed."""
    outputs = {
        name: perceptron_outputs(backend, *BIT_PAIRS)
        for name, backend in backends.items()
        if hasattr(backend, "perceptron")
    }
    outputs[TRUTH_TABLE] = truth_table(*BIT_PAIRS)
    pairs = backend_pairs(list(backends)) + ([(REFERENCE, TRUTH_TABLE)] if REFERENCE in backends else [])
    results = []
    for a, b in pairs:
        missing = [name for name in (a, b) if name not in outputs]
        value = float("nan") if missing else float(np.count_nonzero(outputs[a] != outputs[b]))
        why = f"{missing[0]} has no perceptron module (optional in the contract)" if missing else ""
        results.append(
            Result(
                case.name,
                PERCEPTRON_OUTPUTS,
                f"{a} vs {b}",
                case.dtype,
                value,
                tolerances.PERCEPTRON_BITS,
                not_applicable=why,
            )
        )
    return results
