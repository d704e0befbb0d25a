"""A real JupyterLab on loopback and a headless Chromium that drives it.

``JupyterLab(dir)`` starts ``python -m jupyterlab`` with a token on a free port, its config,
data, runtime, settings and workspaces under `dir`, so nothing of the user's Jupyter set-up is
read or written. ``open_lab(context, server)`` loads JupyterLab in a page of Debian's
Chromium (driven by playwright with ``executable_path``: no browser is downloaded), and
``Notebook`` runs a notebook's cells there through JupyterLab's own commands and reads back
what the page shows.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import requests

from kfs.util import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
SETTINGS = {  # JupyterLab user settings: no news pop-up; every cell stays in the page
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLab:
    def __init__(self, home, env=None):
        self.home, self.root = Path(home), Path(home) / "root"
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.home / "jupyterlab.log"
        self.env = dict(os.environ, **(env or {}),
                        JUPYTER_CONFIG_DIR=str(self.home / "config"),
                        JUPYTER_DATA_DIR=str(self.home / "data"),
                        JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
                        JUPYTERLAB_SETTINGS_DIR=str(self.home / "settings"),
                        JUPYTERLAB_WORKSPACES_DIR=str(self.home / "workspaces"),
                        PYTHONPATH=os.pathsep.join(
                            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
        self.env.pop("MPLBACKEND", None)
        self.process = None

    def start(self, timeout=180):
        self.root.mkdir(parents=True, exist_ok=True)
        for plugin, values in SETTINGS.items():
            path = self.home / "settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
                "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
                "--ServerApp.terminals_enabled=False", "--LabApp.expose_app_in_browser=True",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(argv, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=self.root)
        wait_for(self.ready, timeout, what=f"JupyterLab on {self.url} (log: {self.log})")
        return self

    def ready(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited {self.process.returncode}: "
                               f"{self.log.read_text()[-2000:]}")
        try:
            return requests.get(f"{self.url}/api/status", timeout=5,
                                params={"token": self.token}).ok
        except requests.RequestException:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()  # the server shuts its kernels down
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def put(self, name, notebook):
        """Write a notebook (a dict) into the server's root; returns its path there."""
        (self.root / name).parent.mkdir(parents=True, exist_ok=True)
        (self.root / name).write_text(json.dumps(notebook, indent=1))
        return name

    def copy(self, src, name):
        shutil.copytree(src, self.root / name, dirs_exist_ok=True)
        return name


def launch(playwright, profile):
    """Debian's Chromium, headless, with a new empty profile."""
    return playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1000})


def open_lab(context, server, timeout=180):
    """A page showing JupyterLab in a new, empty workspace of its own: it reopens none of
    the notebooks an earlier page left open (JupyterLab restores a workspace's documents,
    which would start or reconnect to kernels in the middle of the next module's tests:
    the likely source of the 500 one CI run saw). Its `errors` lists the front end's
    errors and every server error with its URL."""
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(f"page error: {e}"))
    page.on("console", lambda m: m.type == "error" and page.errors.append(
        f"console error: {m.text}"))
    page.on("response", lambda r: r.status >= 500 and page.errors.append(
        f"HTTP {r.status}: {r.request.method} {r.url.split('?')[0]}"))
    page.goto(f"{server.url}/lab/workspaces/{secrets.token_hex(4)}?reset&token={server.token}")
    page.wait_for_function("window.jupyterapp !== undefined", timeout=timeout * 1000)
    page.evaluate("async () => { await window.jupyterapp.restored; window.__kfs = {}; }")
    return page


OPEN = """async ([path, seconds]) => {
  const app = window.jupyterapp;
  const late = what => new Promise((_, reject) => setTimeout(
    () => reject(new Error(`${path}: ${what} not after ${seconds} s`)), seconds * 1000));
  const w = await app.commands.execute('docmanager:open', {path, factory: 'Notebook'});
  await Promise.race([w.context.ready, late('its content')]);
  await Promise.race([w.sessionContext.ready, late('its kernel (a dialog may ask for one)')]);
  window.__kfs[path] = {widget: w, done: {}, pictures: []};
  return w.content.widgets.length;
}"""

RUN = """async ([path, i]) => {
  const app = window.jupyterapp, nb = window.__kfs[path];
  app.shell.activateById(nb.widget.id);
  nb.widget.content.activeCellIndex = i;
  nb.done[i] = null;
  app.commands.execute('notebook:run-cell').then(
    ok => { nb.done[i] = {ok}; }, e => { nb.done[i] = {ok: false, error: String(e)}; });
}"""

STATE = """([path, i]) => {
  const nb = window.__kfs[path], cell = nb.widget.content.widgets[i];
  return {done: nb.done[i], outputs: cell.model.toJSON().outputs || [],
          images: cell.node.querySelectorAll('.jp-OutputArea img').length,
          widgets: cell.node.querySelectorAll('.jp-OutputArea .jupyter-widgets').length,
          live: cell.node.querySelectorAll('.jp-OutputArea img.kfs-live-image').length};
}"""

# Records every picture a live view's <img> shows: each new src (a blob: URL ipywidgets
# made from the PNG bytes) is fetched at once and its PNG text chunks read.
WATCH_PICTURES = """([path, i]) => {
  const nb = window.__kfs[path], img = nb.widget.content.widgets[i].node
    .querySelector('img.kfs-live-image');
  if (!img) return false;
  const latin1 = a => Array.from(a, c => String.fromCharCode(c)).join('');
  const text = buf => {
    const b = new Uint8Array(buf), dv = new DataView(buf), out = {};
    for (let k = 8; k + 8 <= b.length; k += 12 + dv.getUint32(k)) {
      if (latin1(b.slice(k + 4, k + 8)) === 'tEXt') {
        const body = b.slice(k + 8, k + 8 + dv.getUint32(k)), z = body.indexOf(0);
        out[latin1(body.slice(0, z))] = latin1(body.slice(z + 1));
      }
    }
    return out;
  };
  const record = () => {
    const src = img.getAttribute('src');
    if (!src) return;
    fetch(src).then(r => r.arrayBuffer()).then(buf => {
      const t = text(buf);
      nb.pictures.push({src, bytes: buf.byteLength, title: t.Title || '',
                        description: t.Description || ''});
    }, e => nb.pictures.push({src, error: String(e)}));
  };
  new MutationObserver(record).observe(img, {attributes: true, attributeFilter: ['src']});
  record();
  return true;
}"""


class Notebook:
    """A notebook open in JupyterLab in `page`."""

    def __init__(self, page, path, timeout=180):
        self.page, self.path = page, path
        self.cells = page.evaluate(OPEN, [path, timeout])

    def run(self, i, timeout=300):
        """Run cell `i` from the front end; wait until it is done; its state (outputs...)."""
        self.page.evaluate(RUN, [self.path, i])
        wait_for(lambda: self.state(i)["done"] is not None, timeout,
                 what=f"cell {i} of {self.path} to finish")
        state = self.state(i)
        errors = [o for o in state["outputs"] if o.get("output_type") == "error"]
        assert state["done"]["ok"] and not errors, (
            f"cell {i} of {self.path} failed: {state['done']} "
            + "\n".join(strip_ansi("\n".join(e.get("traceback", []))) for e in errors))
        return state

    def state(self, i):
        return self.page.evaluate(STATE, [self.path, i])

    def watch_pictures(self, i, timeout=60):
        """Record each picture the live view in cell `i`'s output shows from now on."""
        wait_for(lambda: self.page.evaluate(WATCH_PICTURES, [self.path, i]), timeout,
                 what=f"a live view's image in cell {i}'s output")
        wait_for(lambda: self.pictures(), timeout, what="the live view's first picture")

    def pictures(self):
        """[(number, description)] of the pictures shown so far, in order."""
        found = self.page.evaluate("(path) => window.__kfs[path].pictures", self.path)
        broken = [p for p in found if "error" in p]
        assert not broken, f"a picture could not be read back from the page: {broken}"
        return [(int(p["title"].split()[-1]), p["description"]) for p in found]

    def latest(self):
        return self.pictures()[-1]

    def close(self):
        """Shut its kernel down and close it. (Not right after opening it: the debugger
        then still asks the new kernel for its state, and that request fails.)"""
        self.page.evaluate("""async (path) => { const w = window.__kfs[path].widget;
            await w.sessionContext.shutdown(); w.dispose(); delete window.__kfs[path]; }""",
                           self.path)


def strip_ansi(text):
    import re
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def notebook(*cells):
    """A notebook (a dict) of code cells."""
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": f"cell{i}",
                       "metadata": {}, "outputs": [], "source": src}
                      for i, src in enumerate(cells)],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                        "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}
