"""Shared by the controller manager's system tests: Deployments driven with the real kubectl,
and the facts checked in the API server and in each machine's Docker."""
import threading

import yaml

from kfs import meta
from kfs.client import Client, Informer
from kfs.kubectl import kubectl
from kfs.util import wait_for

quiet = dict(progress=lambda msg: None)
TEST_LABEL = "test=controllers"


def controller_manager_client(lab):
    """The lab at stage controller-manager, both nodes Ready: the admin's client."""
    lab.up(stage="controller-manager", **quiet)
    c = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: sum(meta.condition_true(n, "Ready") for n in c.list("nodes")["items"]) >= 2,
             90, what="node1 and node2 Ready")
    return c


def k(lab, *argv, **kwargs):
    return kubectl(*argv, lab=lab, show=False, **kwargs)


def manifest(name, replicas, image="kfs/echo:1", strategy=None):
    labels = {"app": name, "test": "controllers"}
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": "default", "labels": labels},
         "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "terminationGracePeriodSeconds": 2,
                      "containers": [{"name": "echo", "image": image,
                                      "ports": [{"containerPort": 8080, "name": "http"}],
                                      "readinessProbe": {"httpGet": {"path": "/", "port": 8080},
                                                         "periodSeconds": 1}}]}}}}
    if strategy:
        d["spec"]["strategy"] = strategy
    return yaml.safe_dump(d)


def apply(lab, name, replicas, **kwargs):
    return k(lab, "apply", "-f", "-", input=manifest(name, replicas, **kwargs))


def rollout_status(lab, name, timeout=240):
    return k(lab, "rollout", "status", f"deployment/{name}", f"--timeout={timeout}s",
             timeout=timeout + 30)


def pods_of(client, name):
    return client.list("pods", "default", label_selector=f"app={name}")["items"]


def live(pods):
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def running(pods):
    return [p for p in live(pods) if (p.get("status") or {}).get("phase") == "Running"
            and meta.condition_true(p, "Ready")]


def sandboxes(lab, prefix):
    """{pod name: [machines]} of the pause containers whose pod name starts with `prefix`."""
    found = {}
    for m in lab.nodes:  # the low-level list: containers.list() trips over removed ones
        for c in m.docker().api.containers(filters={"label": "io.kubernetes.container.name=POD"}):
            pod = (c.get("Labels") or {}).get("io.kubernetes.pod.name", "")
            if pod.startswith(prefix):
                found.setdefault(pod, []).append(m.name)
    return found


def settled(client, lab, name, replicas):
    """Exactly `replicas` pods, all Running and Ready, none terminating, and exactly one
    sandbox container per pod in the machines' Dockers, and none left of other pods."""
    pods = pods_of(client, name)
    if len(pods) != replicas or len(running(pods)) != replicas:
        return False
    boxes = sandboxes(lab, f"{name}-")
    return sorted(boxes) == sorted(meta.name(p) for p in pods) and all(
        len(machines) == 1 for machines in boxes.values())


def wait_settled(client, lab, name, replicas, timeout=240):
    wait_for(lambda: settled(client, lab, name, replicas), timeout,
             what=f"deployment {name}: exactly {replicas} running pods, one sandbox each")


def delete(lab, client, name):
    k(lab, "delete", "deployment", name, "--ignore-not-found", "--wait=true", timeout=180)
    wait_for(lambda: not pods_of(client, name) and not sandboxes(lab, f"{name}-"), 120,
             what=f"the pods and containers of {name} to be gone")


class ReadyWatch:
    """Counts a Deployment's Ready, not terminating pods at every watch event (an Informer
    over the API server): `minimum` is the lowest count seen since `start`."""

    def __init__(self, client, name):
        self.informer = Informer(client, "pods", namespace="default",
                                 label_selector=f"app={name}")
        self.lock = threading.Lock()
        self.minimum, self.samples = None, 0
        self.informer.add_handler(self.on_event)

    def count(self):
        return len(running(self.informer.list()))

    def on_event(self, kind, obj, old):
        with self.lock:
            n = self.count()
            self.samples += 1
            self.minimum = n if self.minimum is None else min(self.minimum, n)

    def start(self):
        self.informer.start().wait_synced(30)
        return self

    def stop(self):
        self.informer.stop()
