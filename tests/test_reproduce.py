"""`nndl reproduce`: the book's best-of-runs protocol, its files, and the README table made from them."""

import json

import pytest

from conformance.book import reproduce
from conformance.spec.errors import NndlError
from conformance.spec.presets import load_preset
from conformance.spec.spec import Spec
from tests.cli_support import assert_one_line_error


def tiny_preset(mnist) -> tuple[Spec, dict]:
    """ch3-xent-30 as the book has it, but 2 epochs on 300 images (its book figure kept)."""
    tree = load_preset("ch3-xent-30").to_dict()
    tree["training"]["epochs"] = 2
    tree["data"]["train_size"] = 300
    spec = Spec.from_dict(tree, "tests/test_reproduce.py")
    return spec, {"training": mnist.training.first(300), "validation": mnist.validation, "test": mnist.test}


def test_the_best_run_is_reported_with_the_mean_and_spread_and_runs_are_not_trained_twice(mnist, tmp_path, monkeypatch):
    spec, splits = tiny_preset(mnist)
    result = reproduce.reproduce(spec, "numpy", "cpu", splits, [0, 1, 2], tmp_path, log=lambda line: None)
    runs = [json.loads((tmp_path / "runs" / f"ch3-xent-30-seed{seed}.json").read_text()) for seed in (0, 1, 2)]
    figures = [100 * max(epoch["test_accuracy"] for epoch in run["epochs"]) for run in runs]
    assert result.figures == figures and len(set(figures)) > 1  # three different runs
    summary = json.loads((tmp_path / "ch3-xent-30.json").read_text())
    assert summary["ours"] == max(figures) and summary["book"] == 95.49
    assert summary["difference"] == pytest.approx(max(figures) - 95.49)
    assert summary["mean"] == pytest.approx(sum(figures) / 3)
    mean = sum(figures) / 3
    assert summary["spread"] == pytest.approx((sum((f - mean) ** 2 for f in figures) / 2) ** 0.5)
    assert summary["best_seed"] == figures.index(max(figures))
    page = (tmp_path / "ch3-xent-30.md").read_text()
    assert f"| 95.49% | {max(figures):.2f}% | {max(figures) - 95.49:+.2f} |" in page

    monkeypatch.setattr(
        reproduce, "train_in_folder", lambda *args, **kwargs: pytest.fail("trained a run that was saved")
    )
    again = reproduce.reproduce(spec, "numpy", "cpu", splits, [0, 1, 2], tmp_path, log=lambda line: None)
    assert again.figures == figures


def test_a_saved_run_of_another_spec_is_refused(mnist, tmp_path):
    spec, splits = tiny_preset(mnist)
    reproduce.reproduce(spec, "numpy", "cpu", splits, [0], tmp_path, log=lambda line: None)
    tree = spec.to_dict()
    tree["training"]["eta"] = 0.25
    changed = Spec.from_dict(tree, "tests/test_reproduce.py")
    with pytest.raises(NndlError, match="holds another run"):
        reproduce.reproduce(changed, "numpy", "cpu", splits, [0], tmp_path, log=lambda line: None)


@pytest.mark.parametrize(
    "metric, figure",
    [("test_accuracy", 97.0), ("validation_accuracy", 96.0), ("test_accuracy_at_best_validation", 95.0)],
)
def test_the_books_metric_is_read_from_a_run(metric, figure):
    tree = load_preset("ch3-xent-30").to_dict()
    tree["book"]["metric"] = metric
    spec = Spec.from_dict(tree, "tests/test_reproduce.py")
    run = {
        "epochs": [
            {"test_accuracy": 0.97, "validation_accuracy": 0.90},
            {"test_accuracy": 0.95, "validation_accuracy": 0.96},
        ],
        "test_accuracy_at_best_validation": 0.95,
    }
    assert reproduce.book_metric(spec, run) == pytest.approx(figure)


def summary(preset: str, figures: list[float]) -> dict:
    spec = load_preset(preset)
    result = reproduce.Reproduction(spec, "jax", "cpu", list(range(len(figures))), figures)
    return result.to_dict()


def test_the_readme_table_is_rewritten_between_its_markers_from_the_results(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    for preset, figures in (("ch3-xent-30", [95.5, 95.7, 95.3]), ("ch1-sigmoid-30", [95.4, 95.1, 95.2])):
        (results / f"{preset}.json").write_text(json.dumps(summary(preset, figures)))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{reproduce.TABLE_BEGIN}\nold table\n{reproduce.TABLE_END}\n\nafter\n")
    reproduce.update_readme(readme, results)
    lines = readme.read_text().splitlines()
    table = lines[lines.index(reproduce.TABLE_BEGIN) + 1 : lines.index(reproduce.TABLE_END)]
    assert table[2:] == [
        "| `ch1-sigmoid-30` | [784, 30, 10] | 95.42% test | **95.40%** | -0.02 | 95.23% | 0.15 | 3 | jax |",
        "| `ch3-xent-30` | [784, 30, 10] | 95.49% test | **95.70%** | +0.21 | 95.50% | 0.20 | 3 | jax |",
    ]
    assert lines[0] == "# Title" and lines[-1] == "after" and "old table" not in lines


def test_a_readme_without_markers_is_refused_and_left_alone(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "ch3-xent-30.json").write_text(json.dumps(summary("ch3-xent-30", [95.5])))
    readme = tmp_path / "README.md"
    readme.write_text("no markers\n")
    with pytest.raises(NndlError, match="no results markers"):
        reproduce.update_readme(readme, results)
    assert readme.read_text() == "no markers\n"


def test_reproduce_without_a_preset_or_readme_is_one_line(nndl):
    assert_one_line_error(nndl("reproduce"), "name a preset")
    assert_one_line_error(nndl("reproduce", "ch3-xent-30", "--runs", "0"), "--runs must be at least 1")
    assert_one_line_error(nndl("reproduce", "no-such-preset"), "no preset named")
