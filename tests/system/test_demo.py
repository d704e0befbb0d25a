"""The README's main job for real: ``kfs.demo`` (what ``./demo.sh`` runs after set-up) on the
test lab; run again, it repairs what died and kubectl says ``unchanged``; then notebook 02's
first cell (``course.catch_up("apiserver", etcd_members=3)``) keeps the demo's Deployment
``echo`` and says what it will do to the objects before it does anything.

The demo runs once for the module (a module fixture); the tests read what it printed and
what the cluster holds. At the end the lab goes back to one etcd member at stage cloud and
the demo's Deployment and Service are deleted, so that later system tests find the lab as
they expect.
"""
import contextlib
import io

import pytest

from kfs import course, demo as kfs_demo
from kfs.client import ApiError, Client
from kfs.lab import supervisor
from kfs.lab.stages import scheduler
from kfs.util import wait_for

quiet = dict(progress=lambda msg: None)


def printed(fn, *args, **kwargs):
    """What `fn(*args, **kwargs)` printed (its progress lines, kubectl's output)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        fn(*args, **kwargs)
    return out.getvalue()


def gone(client, resource, name):
    try:
        client.get(resource, name, "default")
        return False
    except ApiError as e:
        return e.not_found


@pytest.fixture(scope="module")
def demo(lab):
    """What the first run of the demo printed, and the uid of its Deployment echo."""
    out = printed(kfs_demo.main, lab=lab)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    yield out, client.get("deployments", "echo", "default")["metadata"]["uid"]
    lab.up(stage="cloud", etcd_members=1, **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    for resource in ("services", "deployments"):  # the Service first: the cloud releases it
        if not gone(client, resource, "echo"):
            client.delete(resource, "echo", "default")
        wait_for(lambda: gone(client, resource, "echo"), 120, what=f"{resource[:-1]}/echo gone")
    wait_for(lambda: not client.list("pods", "default", label_selector="app=echo")["items"], 120,
             what="the demo's echo pods gone")


def test_the_demo_rolls_out_echo_and_reaches_it_through_each_nodeport_and_the_load_balancer(
        lab, demo):
    out, _ = demo
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    status = client.get("deployments", "echo", "default")["status"]
    assert status.get("availableReplicas") == 5, out
    for m in lab.nodes:
        assert f"$ curl http://{m.ip}:{kfs_demo.NODE_PORT}/\n" in out, out
    lb = kfs_demo.external_ip(client, "echo")
    assert f"$ curl http://{lb}/\n" in out, out
    assert (lab.dir / "topology.png").stat().st_size > 0


def test_a_second_run_repairs_what_died_and_kubectl_says_unchanged(lab, demo):
    died = supervisor.pid_of(scheduler.daemon(lab))
    supervisor.stop(scheduler.daemon(lab))
    out = printed(kfs_demo.main, lab=lab)
    assert "deployment.apps/echo unchanged" in out, out
    assert "service/echo unchanged" in out, out
    assert supervisor.pid_of(scheduler.daemon(lab)) not in (None, died), out


def test_notebook_02s_first_cell_after_the_demo_says_first_that_it_keeps_the_echo_deployment(
        lab, demo):
    _, uid = demo
    out = printed(course.catch_up, "apiserver", lab=lab, etcd_members=3)
    first = out.splitlines()[0]
    assert first.startswith("etcd goes from 1 member to 3: ") and "is kept" in first, out
    assert "restored from a snapshot" in out, out
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    kept = client.get("deployments", "echo", "default")
    assert kept["metadata"]["uid"] == uid and kept["spec"]["replicas"] == 5
    assert not gone(client, "services", "echo")
