"""Helpers for the kubelet's system tests: manifests on a lab machine, its kubelet's /pods."""
import json
import os
import textwrap

import pytest
import requests
import urllib3

from kfs.lab.stages import kubelet as stage
from kfs.util import wait_for

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # self-signed kubelets


@pytest.fixture(scope="module")
def klab(lab):
    """The test lab at stage kubelet (kubelets on node1 and node2, standalone)."""
    lab.up(stage="kubelet", progress=lambda msg: None)
    return lab


@pytest.fixture
def node1(klab):
    """node1, with its manifest directory emptied (and its pods gone) after the test."""
    m = klab.machine("node1")
    yield m
    for f in stage.manifest_dir(m).iterdir():
        f.unlink()
    wait_for(lambda: not kubelet_containers(m), 60, what="the test's pods removed")


def write_manifest(machine, filename, text):
    """Write a manifest the way an editor would: a hidden temporary file, then a rename."""
    d = stage.manifest_dir(machine)
    tmp = d / f".{filename}.tmp"
    tmp.write_text(textwrap.dedent(text))
    os.replace(tmp, d / filename)


def pod_manifest(name, containers, **spec):
    """A pod as JSON; `sleep` as PID 1 ignores SIGTERM, so the grace period is short."""
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": containers, "terminationGracePeriodSeconds": 2, **spec}}
    return json.dumps(pod)


def kubelet_pods(machine):
    """{pod name: pod} as the machine's kubelet serves them on /pods."""
    r = requests.get(f"https://{machine.ip}:{stage.PORT}/pods", verify=False, timeout=10)
    r.raise_for_status()
    return {p["metadata"]["name"]: p for p in r.json()["items"]}


def pod_status(machine, name):
    return kubelet_pods(machine).get(name, {}).get("status") or {}


def wait_pod(machine, name, condition, timeout=60, what=None):
    """Wait until condition(status of pod `name`) holds; return the status. A kubelet that
    drops the connection (one just restarted with other flags) is asked again."""
    def check():
        try:
            st = pod_status(machine, name)
        except requests.ConnectionError:
            return None
        return st if st and condition(st) else None
    return wait_for(check, timeout, what=what or f"pod {name} on {machine.name}")


def running(st):
    return st.get("phase") == "Running" and all(
        "running" in c["state"] for c in st.get("containerStatuses", []))


def ready(st):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", []))


def container(st, name):
    return next(c for c in st["containerStatuses"] if c["name"] == name)


def docker(machine, *argv):
    return machine.run(["docker", *argv], capture_output=True, text=True, check=True).stdout


def kubelet_containers(machine, pod_name=None, running=False):
    """Names of the containers the kubelet made (all, or one pod's), running or not; with
    running=True only those running, in one `docker ps` (a separate inspect races the
    kubelet removing the container)."""
    label = f"io.kubernetes.pod.name={pod_name}" if pod_name else "io.kubernetes.pod.uid"
    status = ["--filter", "status=running"] if running else ["-a"]
    out = docker(machine, "ps", *status, "--filter", f"label={label}", "--format", "{{.Names}}")
    return out.split()


def log_text(machine):
    return (machine.dir / "kubelet.log").read_text()
