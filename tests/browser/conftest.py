"""Fixtures of the browser tier: one JupyterLab server and one headless Chromium for the
tier, the lab at stage controller-manager for the tests that change the cluster, and a
screenshot of the page (with the server's log) in tests/browser/artifacts/ when a test fails.
"""
import re
import shutil
from pathlib import Path

import pytest

from kfs import meta
from kfs.util import wait_for
from tests.browser.jupyter import CHROMIUM, JupyterLab, launch, open_lab
from tests.conftest import TEST_LAB, TEST_SUBNET

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="package")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api",
                                   reason="playwright is not installed: run set-up")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no {CHROMIUM}: set-up installs Debian's chromium package")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def jupyter(tmp_path_factory):
    server = JupyterLab(tmp_path_factory.mktemp("jupyterlab"),
                        env={"KFS_LAB": TEST_LAB, "KFS_LAB_SUBNET": TEST_SUBNET})
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def chromium(playwright, tmp_path_factory):
    context = launch(playwright, tmp_path_factory.mktemp("chromium-profile"))
    yield context
    context.close()


@pytest.fixture(scope="module")
def page(chromium, jupyter):
    page = open_lab(chromium, jupyter)
    yield page
    page.close()


@pytest.fixture
def errors(page):
    """The front end's errors while the test runs (console errors and uncaught ones)."""
    page.errors.clear()
    return page.errors


@pytest.fixture(scope="module")
def cluster(lab):
    """The lab at stage controller-manager with both nodes Ready; its admin client."""
    from kfs.client import Client
    lab.up(stage="controller-manager", progress=lambda msg: None)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: sum(meta.condition_true(n, "Ready")
                         for n in client.list("nodes")["items"]) >= 2,
             90, what="node1 and node2 Ready")
    return client


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    page = item.funcargs.get("page")
    if report.when != "call" or not report.failed or page is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^\w.-]+", "_", item.name)
    shot = ARTIFACTS / f"{name}.png"
    try:
        page.screenshot(path=str(shot), full_page=True)
    except Exception as e:  # the page itself may be what broke
        shot = f"no screenshot: {e}"
    server = item.funcargs.get("jupyter")
    logged = ""
    if server is not None and server.log.exists():
        shutil.copy(server.log, ARTIFACTS / f"{name}.jupyterlab.log")
        logged = "\n".join(server_errors(server.log.read_text())[-60:])
    report.sections.append(("browser", f"screenshot: {shot}\nfront-end errors: "
                            f"{getattr(page, 'errors', [])}\nJupyterLab log: "
                            f"{ARTIFACTS / (name + '.jupyterlab.log')}\n"
                            f"its errors:\n{logged or '(none)'}"))


def server_errors(log):
    """The JupyterLab log's error records ([E ...] and [C ...], with their indented
    tracebacks): CI keeps the test's output, not the artifacts."""
    out, inside = [], False
    for line in log.splitlines():
        if line.startswith("["):
            inside = line.startswith(("[E ", "[C "))
        if inside:
            out.append(line)
    return out
