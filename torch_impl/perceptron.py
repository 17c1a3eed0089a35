"""Perceptrons (ch. 1): a neuron whose output is 0 or 1, a NAND gate made of one, and an adder made of NANDs.

Forward only: a perceptron's step has no useful gradient, which is why the book moves on to
sigmoid neurons. Inputs are batches of bits, as float tensors: each row of x is one example, and
x1, x2 are vectors, one bit per example.
"""

import torch

NAND_WEIGHTS = (-2.0, -2.0)
NAND_BIAS = 3.0


def perceptron(w, b, x):
    """output = 1 if w . x + b > 0, else 0 (ch. 1, eq. 2, the bias b being minus the threshold)."""
    return (x @ w + b > 0).to(x.dtype)


def nand(x1, x2):
    """x1 NAND x2 as one perceptron with weights -2, -2 and bias 3 (ch. 1: 00, 01, 10 give 1; 11 gives 0)."""
    w = torch.tensor(NAND_WEIGHTS, dtype=x1.dtype, device=x1.device)
    return perceptron(w, NAND_BIAS, torch.stack([x1, x2], dim=-1))


def add_bits(x1, x2):
    """(sum, carry) of the bits x1 and x2 from five NAND perceptrons, wired as in ch. 1's adder figure:
    sum = x1 XOR x2 from four, carry = x1 AND x2 from the fifth, which takes the first one's output twice."""
    first = nand(x1, x2)
    total = nand(nand(x1, first), nand(x2, first))
    carry = nand(first, first)
    return total, carry
