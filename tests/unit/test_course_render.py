"""`kfs course render`: a notebook executed in a fresh kernel becomes an HTML page with its
pictures embedded; a failing cell is named and makes the command fail."""
import nbformat

from kfs import cli
from kfs.course import render


def notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nbformat.write(nb, path)
    return path


def test_a_rendered_page_carries_the_picture_and_no_error(tmp_path):
    path = notebook(tmp_path / "00_tour.ipynb", "from kfs import course",
                    "course.architecture('kube-apiserver')")
    page, errors = render.render(path, tmp_path / "out", timeout=120)
    html = page.read_text()
    assert page.name == "00_tour.html" and errors == []
    assert "data:image/png;base64," in html
    assert "Traceback" not in html and 'data-mime-type="application/vnd.jupyter.stderr"' not in html


def test_a_failing_cell_is_named_and_the_command_fails(tmp_path, capsys):
    path = notebook(tmp_path / "broken.ipynb", "x = 1", "1 / 0")
    assert cli.main(["course", "render", str(path), "--out", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "cell 1 failed: ZeroDivisionError: division by zero" in out
    assert (tmp_path / "out" / "broken.html").exists()
