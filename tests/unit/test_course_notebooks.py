"""The shape issue 14 asks of every notebook, read from the .ipynb files (no lab needed):
a short first cell that catches up to the notebook's stage, waits that show progress, and
an exercise with its check (the lab tour's too)."""
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def code_cells(path):
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_first_cell_is_short_and_catches_up_to_the_notebooks_stage(path):
    first = code_cells(path)[0]
    assert len(first.splitlines()) <= 15, f"{path.name}: first cell of {len(first.splitlines())} lines"
    assert "course.catch_up(" in first


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_waits_go_through_course_wait_which_shows_progress(path):
    silent = [c.splitlines()[0] for c in code_cells(path) if "wait_for(" in c]
    assert not silent, f"{path.name}: kfs.util.wait_for shows no progress: {silent}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_each_notebook_has_an_exercise_with_its_check(path):
    cells = code_cells(path)
    assert any("course.solution(" in c and "course.check_" in c for c in cells), path.name
