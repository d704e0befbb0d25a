"""The shape of kfs's imports: no cycle inside kfs, and no component that knows the lab.

The graph is read statically (``ast``) from every ``kfs/**/*.py``, imports inside
functions included: a lazy import is still a dependency. ``import kfs.a.b`` and
``from kfs.a import b`` are edges to module ``kfs.a.b`` when that is a module, else to
``kfs.a``; a package's ``__init__.py`` is the package. Importing a submodule is not
counted as importing its parent package (Python runs the parent's ``__init__`` first, but
a package that imports its own submodules would otherwise always be a "cycle"). The lazy
exports of ``kfs/__init__.py`` (``_EXPORTS``: ``from kfs import Lab``) count as imports of
the module they come from. Modules named in strings and loaded by name (the ``kfs``
command's ``COMPONENTS``, the lab's stage ``REGISTRY``) are plug-in tables, not counted.

Components (the API server, kubelet, scheduler, controllers, storage, and the client,
meta, workqueue, pki... modules they share) must not import ``kfs.lab``: the lab's
stages start components, never the other way round. Only the course's own modules may
import the lab: ``kfs.lab.*`` itself and ``COURSE`` below.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The modules besides kfs.lab.* that are the course rather than a component: the `kfs`
# command, the main job, the pictures (a package), what notebooks share (a package),
# kubectl against the lab, the package's lazy exports.
COURSE = {"kfs", "kfs.cli", "kfs.demo", "kfs.viz", "kfs.course", "kfs.kubectl"}
COURSE_PACKAGES = ("kfs.viz.", "kfs.course.")


def module_name(path, root):
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root, top="kfs"):
    """{module: [(imported module, file, line), ...]} for the modules under root/top."""
    files = {module_name(p, root): p for p in sorted((root / top).rglob("*.py"))}
    exports = _lazy_exports(files.get(top))
    graph = {}
    for mod, path in files.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        edges = graph[mod] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for target in _targets(node, package, files, exports, top):
                edges.append((target, path.relative_to(root), node.lineno))
    return graph


def _lazy_exports(init):
    """A package's ``_EXPORTS = {"Name": "module"}`` (kfs/__init__.py's lazy API)."""
    if init is None:
        return {}
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in node.targets):
            return ast.literal_eval(node.value)
    return {}


def _targets(node, package, files, exports, top):
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == top or alias.name.startswith(top + "."):
                yield _known(alias.name, files)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
            base = ".".join(anchor + ([node.module] if node.module else []))
        if base != top and not base.startswith(top + "."):
            return
        for alias in node.names:
            candidate = f"{base}.{alias.name}"
            if candidate in files:
                yield candidate
            elif base == top and alias.name in exports:
                yield exports[alias.name]
            else:
                yield _known(base, files)


def _known(name, files):
    """The longest prefix of a dotted name that is a module we have."""
    while name not in files and "." in name:
        name = name.rpartition(".")[0]
    return name


def cycles(graph):
    """Each import cycle once, as [(module, file, line), ...] (each entry imports the next,
    the last imports the first), found per strongly connected component."""
    found = []
    for scc in _strongly_connected(graph):
        start = min(scc)
        if len(scc) == 1 and not any(t == start for t, _, _ in graph[start]):
            continue
        found.append(_shortest_cycle(graph, start, scc))
    return found


def _strongly_connected(graph):
    """Tarjan's algorithm."""
    index, low, stack, on_stack, result = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w, _, _ in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.add(w)
                if w == v:
                    break
            result.append(scc)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return result


def _shortest_cycle(graph, start, scc):
    """Breadth first from `start` back to it, inside its component."""
    paths, frontier = {start: []}, [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w, path, line in graph[v]:
                step = paths[v] + [(v, path, line)]
                if w == start:
                    return step
                if w in scc and w not in paths:
                    paths[w] = step
                    nxt.append(w)
        frontier = nxt
    raise AssertionError(f"no cycle through {start}")  # unreachable for a real component


def lab_imports(graph, course=COURSE, lab="kfs.lab"):
    """(file, line, importer, imported) for each import of the lab by a component."""
    return [(path, line, mod, target)
            for mod, edges in sorted(graph.items())
            if mod not in course and not mod.startswith(COURSE_PACKAGES)
            and mod != lab and not mod.startswith(lab + ".")
            for target, path, line in edges
            if target == lab or target.startswith(lab + ".")]


def describe(cycle):
    names = [mod for mod, _, _ in cycle] + [cycle[0][0]]
    where = ", ".join(f"{path}:{line}" for _, path, line in cycle)
    return f"{' -> '.join(names)}  ({where})"


# -- kfs itself -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def graph():
    return import_graph(ROOT)


def test_kfs_has_no_import_cycle(graph):
    found = [describe(c) for c in cycles(graph)]
    assert not found, "import cycles inside kfs:\n  " + "\n  ".join(found)


def test_no_component_imports_the_lab(graph):
    found = [f"{path}:{line}: {mod} imports {target}"
             for path, line, mod, target in lab_imports(graph)]
    assert not found, ("components must not import kfs.lab (a lab stage starts the "
                       "component, in kfs/lab/stages/):\n  " + "\n  ".join(found))


def test_the_graph_holds_the_lab_stages_and_their_imports_of_components(graph):
    assert {"kfs", "kfs.cli", "kfs.lab", "kfs.lab.stages", "kfs.storage.store"} <= set(graph)
    assert "kfs.lab.supervisor" in {t for t, _, _ in graph["kfs.lab.stages.kubelet"]}
    assert "kfs.kubelet.runtime" in {t for t, _, _ in graph["kfs.lab.stages.kubelet"]}


# -- the checker, on made-up packages -------------------------------------------------------------

def write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_cycle_through_a_function_level_import_is_named_with_its_lines(tmp_path):
    write(tmp_path, {"kfs/__init__.py": "", "kfs/a.py": "import kfs.b\n",
                     "kfs/b.py": "def f():\n    from kfs import c\n",
                     "kfs/c.py": "from kfs.a import thing\n", "kfs/d.py": "import kfs.a\n"})
    found = cycles(import_graph(tmp_path))
    assert [describe(c) for c in found] == [
        "kfs.a -> kfs.b -> kfs.c -> kfs.a  (kfs/a.py:1, kfs/b.py:2, kfs/c.py:1)"]


def test_from_a_package_import_a_submodule_depends_on_the_submodule_only(tmp_path):
    write(tmp_path, {"kfs/__init__.py": "", "kfs/p/__init__.py": "from kfs.p import m\n",
                     "kfs/p/m.py": "from kfs.p import n\nfrom kfs.p.n import x\n",
                     "kfs/p/n.py": "from . import helper\nfrom .. import q\n",
                     "kfs/q.py": "from kfs.p import something_in_init\n"})
    graph = import_graph(tmp_path)
    assert [t for t, _, _ in graph["kfs.p.m"]] == ["kfs.p.n", "kfs.p.n"]
    assert [t for t, _, _ in graph["kfs.p.n"]] == ["kfs.p", "kfs.q"]
    assert [describe(c) for c in cycles(graph)] == [
        "kfs.p -> kfs.p.m -> kfs.p.n -> kfs.p  (kfs/p/__init__.py:1, kfs/p/m.py:1, kfs/p/n.py:1)"]


def test_a_component_importing_the_lab_is_named_with_file_and_line(tmp_path):
    write(tmp_path, {"kfs/__init__.py": '_EXPORTS = {"Lab": "kfs.lab.lab"}\n',
                     "kfs/lab/__init__.py": "", "kfs/lab/lab.py": "import kfs.comp.x\n",
                     "kfs/comp/__init__.py": "", "kfs/cli.py": "from kfs.lab import lab\n",
                     "kfs/comp/x.py": "import json\n\ndef f():\n    from kfs.lab import lab\n",
                     "kfs/comp/y.py": "from kfs import Lab\n"})
    found = lab_imports(import_graph(tmp_path), course={"kfs", "kfs.cli"})
    assert [(str(p), line, mod, target) for p, line, mod, target in found] == [
        ("kfs/comp/x.py", 4, "kfs.comp.x", "kfs.lab.lab"),
        ("kfs/comp/y.py", 1, "kfs.comp.y", "kfs.lab.lab")]
