"""`nndl exercise`'s chapter 6 exercises (conformance/book/exercises_conv.py): for each, the untouched
skeleton fails as "not written yet", the reference's own solution put in the skeleton passes, and a
typical wrong answer gets the hint that names it, from --explain's reasoning about a conv layer.
"""

from pathlib import Path

import pytest

from conformance.book import grading
from tests.exercise_support import written

# the reference's own lines (reference/convolution.py, pooling.py), written against the skeleton's arguments
SOLUTIONS = {
    "conv-input-gradient": """\
rows, cols = input_shape[2] - delta.shape[2], input_shape[3] - delta.shape[3]  # kh - 1, kw - 1
padded = np.pad(delta, ((0, 0), (0, 0), (rows, rows), (cols, cols)))
flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (channels, filters, kh, kw)
return correlate(padded, flipped)""",
    "conv-weight-gradient": """\
windows = sliding_window_view(x, kernel_shape[2:], axis=(2, 3))  # (m, c, H', W', kh, kw)
return np.tensordot(delta, windows, axes=((0, 2, 3), (0, 2, 3)))""",
    "l2-pool-gradient": """\
rows, cols = pooled.shape[2] * size, pooled.shape[3] * size
positive = pooled > 0
scale = np.where(positive, grad / np.where(positive, pooled, 1), 0)
du = np.zeros_like(u)
du[:, :, :rows, :cols] = u[:, :, :rows, :cols] * scale.repeat(size, axis=2).repeat(size, axis=3)
return du""",
}

# a typical wrong answer of each, and the words of the hint it must get
WRONG = {
    "conv-input-gradient": (
        SOLUTIONS["conv-input-gradient"].replace("w[:, :, ::-1, ::-1].transpose", "w.transpose"),
        (
            "the conv input gradient of layer 2 is wrong: its own dC/dW and dC/db agree and the layers below differ, "
            "so the delta it passes down is wrong. The slip: a missing kernel flip, delta correlated with the kernel "
            "as it is; with it made, the reference's gradient is this one to 0.0e+00 (5.9e-01 without it)."
        ),
    ),
    "conv-weight-gradient": (
        SOLUTIONS["conv-weight-gradient"].replace("(0, 2, 3)))", "(0, 2, 3)))[:, :, ::-1, ::-1]"),
        (
            "the conv weight gradient at layers 1 and 2 is wrong: dC/dW^l off while dC/db^l, the sum of the same "
            "delta, agrees (l = 1, 2) (a wrong routing would show so too; the slip tells which). The slip: dC/dW "
            "flipped in both spatial axes"
        ),
    ),
    "l2-pool-gradient": (
        SOLUTIONS["l2-pool-gradient"].replace(
            "np.where(positive, grad / np.where(positive, pooled, 1), 0)", "grad / pooled"
        ),
        (
            "NaN in layer 1's dC/dW in 100 of 100 entries: L2 pooling's gradient at an all-zero window, dC/du = "
            "dC/dpooled * u / pooled, is 0/0 there, and the spec makes it 0"
        ),
    ),
}

# the input gradient's other slip the issue names: the kernel's (filters, channels) axes reshaped, not transposed
RESHAPED = SOLUTIONS["conv-input-gradient"].replace(
    ".transpose(1, 0, 2, 3)", ".reshape(w.shape[1], w.shape[0], *w.shape[2:])"
)

RESHAPED_HINT = (
    "The slip: a transposed channel axis, the kernel's (filters, channels) axes reshaped to (channels, filters) "
    "where a transpose belongs, so each channel takes other filters' weights; with it made, the reference's "
    "gradient is this one to 0.0e+00 (1.4e+00 without it)."
)


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_the_skeleton_is_not_written_yet(tmp_path, mnist, name):
    verdict = grading.check(written(tmp_path, name, None), mnist)
    assert verdict.kind == grading.NOT_WRITTEN and not verdict.passed
    assert verdict.lines == [f"`{verdict.exercise.function}` in exercise.py raises NotImplementedError"]


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_the_references_own_solution_passes_bitwise(tmp_path, mnist, name):
    verdict = grading.check(written(tmp_path, name, SOLUTIONS[name]), mnist)
    assert verdict.kind == grading.PASS, verdict.text()
    assert verdict.lines[0] == "2 checks ran, every one within its bound"
    assert float(verdict.lines[1].split()[3]) == 0.0  # the reference's own lines: bitwise its gradient


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning", "ignore:divide by zero:RuntimeWarning")
@pytest.mark.parametrize("name", list(WRONG))
def test_a_typical_wrong_answer_gets_its_hint(tmp_path, mnist, name):
    body, hint = WRONG[name]
    verdict = grading.check(written(tmp_path, name, body), mnist)
    assert verdict.kind == grading.WRONG
    assert hint in " ".join(verdict.text().split()), verdict.text()


def test_a_channel_axis_reshaped_where_a_transpose_belongs_is_named_so(tmp_path, mnist):
    verdict = grading.check(written(tmp_path, "conv-input-gradient", RESHAPED), mnist)
    assert verdict.kind == grading.WRONG
    assert RESHAPED_HINT in " ".join(verdict.text().split()), verdict.text()


def test_the_readme_gives_the_hints_these_tests_hold():
    """README, Exercises: each conv wrong answer's hint as the tests above hold it."""
    readme = " ".join((Path(__file__).resolve().parents[1] / "README.md").read_text().split())
    hints = [hint for _, hint in WRONG.values()] + [RESHAPED_HINT]
    assert [hint for hint in hints if hint not in readme] == []
