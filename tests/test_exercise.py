"""`nndl exercise`: for every dense exercise, the untouched skeleton fails as "not written yet", the
reference's own solution put in the skeleton passes, and a typical wrong answer gets the hint that names
it (the conv exercises have theirs in tests/test_exercise_conv.py). `start` refuses a folder with files
in it and an unknown exercise, one line each.
"""

from pathlib import Path

import pytest

from conformance.book import grading, lesson, site
from conformance.book.exercises import EXERCISES
from tests.cli_support import assert_one_line_error
from tests.exercise_support import written

# the reference's own lines (reference/costs.py, layers.py and network.py, regularizers.py and train.py),
# written against the skeleton's arguments
SOLUTIONS = {
    "backprop": """\
delta = cost_delta(zs[-1], activations[-1], y) / len(y)  # BP1, of the mean cost
grads = [None] * len(weights)
for l in range(len(weights), 0, -1):
    grads[l - 1] = (delta.T @ activations[l - 1], delta.sum(axis=0))  # BP4, BP3
    if l > 1:
        delta = (delta @ weights[l - 1]) * sigma_primes[l - 2](zs[l - 2])  # BP2
return grads""",
    "quadratic-delta": "return (a - y) * (a * (1.0 - a))",
    "cross-entropy-delta": "return a - y",
    "log-likelihood-delta": "return a - y",
    "l2-step": "return (1.0 - eta * lmbda / n) * w - (eta / m) * gradient_sum",
    "l1-step": "return w - (eta * lmbda / n) * np.sign(w) - (eta / m) * gradient_sum",
}

# a typical wrong answer of each, and the words of the hint it must get
WRONG = {
    "backprop": (
        SOLUTIONS["backprop"].replace("sigma_primes[l - 2](zs[l - 2])", "sigma_primes[l - 2](activations[l - 1])"),
        "sigma' taken of the activation a^3 where BP2 has sigma'(z^3)",
    ),
    "quadratic-delta": ("return a - y", "delta^L lacks the factor sigma'(z^L) = a^L (1 - a^L)"),
    "cross-entropy-delta": (
        "return (a - y) * a * (1 - a)",
        "delta^L is sigma'(z^L) = a^L (1 - a^L) times the right one, example by example: the quadratic cost's BP1",
    ),
    "log-likelihood-delta": ("return y - a", "every dC/db is -1 times the reference's: the output error's sign"),
    "l2-step": (
        "return (1.0 - eta * lmbda / m) * w - (eta / m) * gradient_sum",
        "this port's step implies n = 10, the mini-batch's size",
    ),
    "l1-step": (
        "return w - (eta * lmbda / n) * w - (eta / m) * gradient_sum",
        "L1's step is proportional to w, not to its sign",
    ),
}
# a wrong answer of backprop's other than BP2's: the mean without its 1/m
NO_MEAN = SOLUTIONS["backprop"].replace(" / len(y)", "")


def said(verdict) -> str:
    """The verdict's lines, unwrapped."""
    return "\n".join(verdict.lines)


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_the_skeleton_is_not_written_yet(tmp_path, mnist, name):
    verdict = grading.check(written(tmp_path, name, None), mnist)
    assert verdict.kind == grading.NOT_WRITTEN and not verdict.passed
    assert verdict.lines == [f"`{verdict.exercise.function}` in exercise.py raises NotImplementedError"]


@pytest.mark.parametrize("name", list(SOLUTIONS))
def test_the_references_own_solution_passes(tmp_path, mnist, name):
    verdict = grading.check(written(tmp_path, name, SOLUTIONS[name]), mnist)
    assert verdict.kind == grading.PASS, verdict.text()
    worst = float(verdict.lines[1].split()[3])
    assert worst <= 2.3e-16  # the reference's own lines: bitwise, or a few roundings of (eta / m) (m g)


@pytest.mark.parametrize("name", list(WRONG))
def test_a_typical_wrong_answer_gets_its_hint(tmp_path, mnist, name):
    body, hint = WRONG[name]
    verdict = grading.check(written(tmp_path, name, body), mnist)
    assert verdict.kind == grading.WRONG
    assert hint in said(verdict), verdict.text()


def test_backprop_without_the_means_1_over_m(tmp_path, mnist):
    verdict = grading.check(written(tmp_path, "backprop", NO_MEAN), mnist)
    assert verdict.kind == grading.WRONG
    assert "every dC/db is m = 10 times the reference's: the mean over the mini-batch without its 1/m" in said(verdict)


def test_backprop_with_bp4_transposed_is_told_the_shapes(tmp_path, mnist):
    transposed = SOLUTIONS["backprop"].replace("delta.T @ activations[l - 1]", "activations[l - 1].T @ delta")
    verdict = grading.check(written(tmp_path, "backprop", transposed), mnist)
    assert verdict.kind == grading.WRONG
    assert (
        "backprop gave dC/dW^1 of shape (784, 30) and dC/db^1 of shape (30,): each must have its parameter's "
        "shape, W^1 (30, 784) and b^1 (30,)" in said(verdict)
    )


def test_an_error_in_the_learners_function_is_wrong_with_its_traceback(tmp_path, mnist):
    folder = written(tmp_path, "cross-entropy-delta", "return a - yy")
    verdict = grading.check(folder, mnist)
    assert verdict.kind == grading.WRONG
    assert verdict.lines[0].startswith("your function raised: the yours backend's Model.gradients raised NameError")
    frames = verdict.lines[1].splitlines()
    assert frames[1] == f'  File "{folder.resolve() / "exercise.py"}", line 18, in delta'
    assert frames[-1] == "NameError: name 'yy' is not defined"


def test_every_exercise_is_tested_here_or_with_the_conv_ones():
    conv_tests = Path(__file__).with_name("test_exercise_conv.py")
    elsewhere = conv_tests.read_text() if conv_tests.exists() else ""
    assert [e.name for e in EXERCISES if e.name not in SOLUTIONS and f'"{e.name}"' not in elsewhere] == []


def test_the_cli_lists_starts_checks_and_refuses(tmp_path, nndl, mnist_path, quick_mnist):
    listed = nndl("exercise")
    assert listed.code == 0 and "  l2-step               ch. 3, eq. 93: the SGD step with L2 weight decay" in listed.out
    folder = tmp_path / "mine"
    assert nndl("exercise", "start", "l2-step", folder).code == 0
    readme = (folder / "README.md").read_text().splitlines()
    assert len(readme) == 6 and f"nndl exercise check {folder}" in readme[2]  # a title and five lines
    kept = (folder / "exercise.py").read_text()
    assert_one_line_error(
        nndl("exercise", "start", "l1-step", folder),
        f"{folder} exists and is not an empty folder",
        "nothing was written",
    )
    assert (folder / "exercise.py").read_text() == kept
    assert_one_line_error(
        nndl("exercise", "start", "bp5", tmp_path / "other"), "no exercise called 'bp5'; choose one of: backprop,"
    )
    assert not (tmp_path / "other").exists()
    checked = nndl("exercise", "check", folder, "--data", mnist_path)
    assert checked.code == 1 and checked.out.startswith("not written yet: l2-step")
    assert_one_line_error(nndl("exercise", "check", tmp_path), "is not an exercise folder")
    (folder / "__init__.py").write_text("")
    assert_one_line_error(nndl("exercise", "check", folder), "__init__.py names no EXERCISE")


def test_each_lesson_with_an_exercise_names_it_in_its_text_and_on_its_page():
    for exercise in EXERCISES:
        for name in (exercise.lesson, *exercise.also):
            concept = lesson.lookup(name)  # an unknown lesson is an error
            text = lesson.lesson_text(concept, None, width=200)
            assert f"Write it yourself: nndl exercise start {exercise.name} DIR ({exercise.title})" in text
            assert f"<code>nndl exercise start {exercise.name} DIR</code>" in site.exercises_html(concept)
    assert site.exercises_html(lesson.lookup("sigmoid")) == ""  # a lesson without one has no box


def test_the_readmes_exercise_is_a_real_run(tmp_path, mnist):
    """README, Exercises: the wrong answer's verdict and the pass are what `check` prints for them."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for answer, body in {"wrong": WRONG["cross-entropy-delta"][0], "right": SOLUTIONS["cross-entropy-delta"]}.items():
        text = grading.check(written(tmp_path / answer, "cross-entropy-delta", body), mnist).text()
        assert "\n".join(f"    {line}" for line in text.splitlines()) in readme, text
