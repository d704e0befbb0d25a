"""``kfs course render``: the course executed on the lab and written as HTML, for readers
without a lab.

Each notebook runs top to bottom in a fresh kernel (nbconvert's ``ExecutePreprocessor``,
as nbval does) and is written with its outputs, pictures embedded, to
``build/course/<notebook>.html`` (``--out`` to change). The ``.ipynb`` files stay without
outputs. A cell that fails is kept in the page and named on the terminal; the command then
exits non-zero.
"""
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
OUT = ROOT / "build" / "course"


def add_arguments(parser):
    parser.add_argument("notebooks", nargs="*", metavar="NOTEBOOK",
                        help="names or paths (00_lab, notebooks/03_scheduler.ipynb; "
                        "default: every notebook of the course)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"folder of the pages (default {OUT})")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")


def find(name):
    path = Path(name)
    for candidate in (path, NOTEBOOKS / path, NOTEBOOKS / f"{name}.ipynb"):
        if candidate.suffix == ".ipynb" and candidate.exists():
            return candidate
    known = ", ".join(p.stem for p in sorted(NOTEBOOKS.glob("*.ipynb")))
    raise SystemExit(f"kfs: no notebook {name!r}; the course has {known}")


def errors(nb):
    """(cell number, 'ename: evalue') of each error output."""
    return [(i, f"{o['ename']}: {o['evalue']}") for i, cell in enumerate(nb.cells)
            for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def render(path, out=OUT, timeout=900):
    """Execute the notebook at `path` and write its HTML page; return (page, errors)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import ExecutePreprocessor
    nb = nbformat.read(path, as_version=4)
    ExecutePreprocessor(timeout=timeout, allow_errors=True, kernel_name="python3").preprocess(
        nb, {"metadata": {"path": str(Path(path).parent)}})
    html, _ = HTMLExporter().from_notebook_node(nb)
    out.mkdir(parents=True, exist_ok=True)
    page = out / f"{Path(path).stem}.html"
    page.write_text(html)
    return page, errors(nb)


def main(args):
    paths = [find(n) for n in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    failed = 0
    for path in paths:
        start = time.monotonic()
        print(f"rendering {path.name} ...", flush=True)
        page, errs = render(path, args.out, args.timeout)
        for cell, what in errs:
            print(f"  cell {cell} failed: {what}")
        failed += bool(errs)
        print(f"  {page} ({time.monotonic() - start:.0f} s)")
    return 1 if failed else 0
