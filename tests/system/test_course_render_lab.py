"""`kfs course render 00_lab` on the lab: the lab tour as an HTML page, with its pictures
(the architecture, the topology) and no error output."""
from kfs import cli


def test_rendering_the_lab_tour_writes_a_page_with_pictures_and_no_error(tmp_path, capsys):
    assert cli.main(["course", "render", "00_lab", "--out", str(tmp_path)]) == 0
    html = (tmp_path / "00_lab.html").read_text()
    assert html.count("data:image/png;base64,") >= 2
    assert "Traceback" not in html and "failed:" not in capsys.readouterr().out
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html
