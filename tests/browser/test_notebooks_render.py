"""Every course notebook opens in JupyterLab without a front-end error: all its cells are
there, every markdown cell renders, no error dialog, its kernel starts (a notebook JupyterLab
cannot read fails here with the front end's error).
(The notebooks' code runs under nbval; here only the front end is judged.)"""
import json

import pytest

from tests.browser.jupyter import ROOT, Notebook

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

RENDERED = """(path) => {
  const w = window.__kfs[path].widget, cells = w.content.widgets;
  return {cells: cells.length,
          unrendered: cells.filter(c => c.model.type === 'markdown' && !c.rendered).length,
          dialogs: document.querySelectorAll('.jp-Dialog').length,
          kernel: w.sessionContext.session ? w.sessionContext.session.kernel.name : null};
}"""


@pytest.fixture(scope="module")
def course(jupyter):
    """A copy of notebooks/ in the server's root: opening a notebook may save it."""
    return jupyter.copy(ROOT / "notebooks", "course")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_course_notebook_renders_in_jupyterlab_without_a_front_end_error(
        path, course, page, errors):
    nb = Notebook(page, f"{course}/{path.name}")  # left open: the server ends its kernel
    want = len(json.loads(path.read_text())["cells"])
    shown = page.evaluate(RENDERED, nb.path)
    assert shown == {"cells": want, "unrendered": 0, "dialogs": 0,
                     "kernel": "python3"}
    assert errors == []
