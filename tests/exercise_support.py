"""An exercise's folder as `nndl exercise start` writes it, with a learner's answer put in: shared by
tests/test_exercise.py (the dense exercises) and tests/test_exercise_conv.py (chapter 6's)."""

from pathlib import Path

from conformance.book import grading


def written(tmp_path: Path, name: str, body: str | None) -> Path:
    """The exercise's folder, as `start` writes it, with `body` in the place of `raise NotImplementedError`."""
    folder = tmp_path / name
    grading.start(name, folder)
    if body is not None:
        exercise = folder / "exercise.py"
        lines = exercise.read_text().splitlines()
        at = lines.index("    raise NotImplementedError")
        lines[at : at + 1] = [f"    {line}" for line in body.splitlines()]
        exercise.write_text("\n".join(lines) + "\n")
    return folder
