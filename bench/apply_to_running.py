"""The basic flow's speed: `kubectl apply` of 30 replicas until all Running, as a ratio to raw
`docker run` of the same containers in the same run.

- kfs: `kubectl apply -f` a Deployment of 30 `kfs/echo:1` replicas (no readiness probe), then
  the time until the API server shows all 30 pods Running (an informer on pods counts them
  as the events arrive): the Deployment controller, the ReplicaSet controller's slow-start
  batches, the scheduler's bindings and both kubelets' pod starts, end to end;
- raw Docker: the same 30 pause sandbox + echo container pairs made with the Docker API,
  15 on node1's Docker and 15 on node2's, all at once (a thread per pod); the time until
  the last app container started.

    .venv/bin/python bench/apply_to_running.py [--replicas 30] [--runs 3]

Runs on the lab named by KFS_LAB / KFS_LAB_SUBNET (default kfsbc on 192.168.66.0/24), at
stage controller-manager; needs root. A lab the run made is removed at the end.
"""
import argparse
import os
import statistics
import threading
import time

import yaml

from kfs import meta
from kfs.client import Client, Informer
from kfs.kubectl import kubectl
from kfs.lab.lab import Lab
from kfs.util import wait_for

quiet = dict(progress=lambda msg: None)
NAME = "bench-apply"


def manifest(replicas):
    labels = {"app": NAME}
    return yaml.safe_dump({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": "default"},
        "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "echo", "image": "kfs/echo:1"}]}}}})


def kfs_run(lab, client, replicas):
    """Seconds from `kubectl apply` to `replicas` pods Running."""
    done = threading.Event()
    informer = Informer(client, "pods", namespace="default", label_selector=f"app={NAME}")

    def on_event(kind, obj, old):
        pods = informer.list()
        running = [p for p in pods if (p.get("status") or {}).get("phase") == "Running"
                   and not p["metadata"].get("deletionTimestamp")]
        if len(running) >= replicas:
            done.set()
    informer.add_handler(on_event).start().wait_synced(30)
    start = time.perf_counter()
    kubectl("apply", "-f", "-", input=manifest(replicas), lab=lab, show=False)
    finished = done.wait(300)
    took = time.perf_counter() - start
    informer.stop()
    kubectl("delete", "deployment", NAME, "--wait=true", lab=lab, show=False, timeout=300)
    wait_for(lambda: not client.list("pods", "default", label_selector=f"app={NAME}")["items"]
             and not bench_containers(lab), 300, what="the bench pods and their containers removed")
    if not finished:
        raise SystemExit(f"the {replicas} pods were not all Running within 300 s; see "
                         "`kfs lab logs controller-manager` and `kfs lab logs kubelet`")
    return took


def bench_containers(lab):
    """The bench pods' containers still in the nodes' Dockers (the low-level list: the
    high-level one inspects each container and trips over those being removed)."""
    return [c for m in lab.nodes for c in m.docker().api.containers(all=True, filters={
        "label": "io.kubernetes.pod.namespace=default"})
        if (c.get("Labels") or {}).get("io.kubernetes.pod.name", "").startswith(f"{NAME}-")]


def docker_run(lab, replicas):
    """Seconds to create and start `replicas` sandbox + echo pairs, spread over the nodes."""
    clients = [m.docker() for m in lab.nodes]
    made, lock = [], threading.Lock()

    def one(i):
        client = clients[i % len(clients)]
        sandbox = client.containers.run("kfs/pause:1", name=f"raw-pod{i}", hostname=f"raw{i}",
                                        ipc_mode="shareable", detach=True)
        app = client.containers.run("kfs/echo:1", name=f"raw-app{i}",
                                    network_mode=f"container:{sandbox.id}",
                                    ipc_mode=f"container:{sandbox.id}", detach=True)
        with lock:
            made.extend([sandbox, app])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(replicas)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - start
    for c in made:
        c.remove(force=True)
    if len(made) != 2 * replicas:
        raise SystemExit(f"raw docker run made {len(made)} of {2 * replicas} containers")
    return took


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lab = Lab(name=os.environ.get("KFS_LAB", "kfsbc"),
              subnet=os.environ.get("KFS_LAB_SUBNET", "192.168.66.0/24"))
    created = not lab.exists
    lab.up(stage="controller-manager", **quiet)
    try:
        measure(lab, args)
    finally:  # a lab this run made goes again (KFS_KEEP_LAB=1 keeps it for a look)
        if created and not os.environ.get("KFS_KEEP_LAB"):
            lab.down(**quiet)


def measure(lab, args):
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: sum(meta.condition_true(n, "Ready") for n in client.list("nodes")["items"])
             >= len(lab.nodes), 90, what="the nodes Ready")
    kfs, raw = [], []
    for _ in range(args.runs):
        raw.append(docker_run(lab, args.replicas))
        kfs.append(kfs_run(lab, client, args.replicas))
    k, r = statistics.median(kfs), statistics.median(raw)
    print(f"{args.replicas} replicas over {len(lab.nodes)} nodes, {args.runs} runs (lab {lab.name})")
    print(f"kubectl apply -> all Running:        median {k:.2f} s  "
          f"(runs: {', '.join(f'{x:.2f}' for x in kfs)})")
    print(f"raw docker run (sandbox + app):      median {r:.2f} s  "
          f"(runs: {', '.join(f'{x:.2f}' for x in raw)})")
    print(f"ratio kfs / raw docker:              {k / r:.1f}x")


if __name__ == "__main__":
    main()
