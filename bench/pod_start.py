"""Pod start latency of the kubelet, as a ratio to raw `docker run` in the same run.

A burst of N pods (default 20) on node1, each a pause sandbox plus one busybox container:

- kubelet: N manifests written into node1's manifest directory at once; a pod's latency is
  the time until the kubelet's /pods first shows it Running (polled every 50 ms);
  with ``--via api``, N pods bound to node1 created in the API server (lab stage apiserver)
  and the time until the API server shows them Running;
- raw Docker: the same N sandbox + app container pairs made with the Docker API (N threads,
  as the kubelet runs one worker per pod: create + start the pause container, then the app
  container joined to its network and IPC namespaces); latency = until both started.

    .venv/bin/python bench/pod_start.py [--pods 20] [--runs 3] [--via file|api]

Runs on the lab named by KFS_LAB / KFS_LAB_SUBNET (default kfsbk on 192.168.62.0/24), at
stage kubelet; needs root. A lab the run made is removed at the end. The kubelet's figure includes its manifest directory poll
(--file-check-frequency 1s in the lab: 0.5 s on average).
"""
import argparse
import json
import os
import statistics
import threading
import time

import requests
import urllib3

from kfs.lab.lab import Lab
from kfs.lab.stages import kubelet as stage
from kfs.util import wait_for

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
quiet = dict(progress=lambda msg: None)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def pod_json(i):
    return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"bench{i}"},
                       "spec": {"terminationGracePeriodSeconds": 0, "containers": [
                           {"name": "app", "image": "kfs/busybox:1",
                            "command": ["sleep", "3600"]}]}})


def kubelet_burst(m, n):
    d = stage.manifest_dir(m)
    url = f"https://{m.ip}:{stage.PORT}/pods"
    start = time.perf_counter()
    for i in range(n):
        (d / f".bench{i}.tmp").write_text(pod_json(i))
        os.replace(d / f".bench{i}.tmp", d / f"bench{i}.json")
    seen = {}
    deadline = start + 120
    while len(seen) < n and time.perf_counter() < deadline:
        for p in requests.get(url, verify=False, timeout=10).json()["items"]:
            name = p["metadata"]["name"]
            if name not in seen and (p.get("status") or {}).get("phase") == "Running":
                seen[name] = time.perf_counter() - start
        time.sleep(0.05)
    for i in range(n):
        (d / f"bench{i}.json").unlink()
    client = m.docker()
    wait_for(lambda: not client.api.containers(all=True, filters={
        "label": "io.kubernetes.pod.uid"}), 120, what="the bench pods removed")
    if len(seen) < n:
        raise SystemExit(f"only {len(seen)} of {n} pods ran within 120 s; see "
                         f"{m.dir / 'kubelet.log'}")
    return list(seen.values())


def api_burst(lab, m, n):
    from kfs.client import Client
    api = Client.from_kubeconfig(lab.admin_kubeconfig)
    bodies = [json.loads(pod_json(i)) for i in range(n)]
    for b in bodies:
        b["spec"]["nodeName"] = m.name
    start = time.perf_counter()
    for b in bodies:
        api.create(b, "default")
    seen = {}
    while len(seen) < n and time.perf_counter() < start + 120:
        for p in api.list("pods", "default")["items"]:
            name = p["metadata"]["name"]
            if name not in seen and (p.get("status") or {}).get("phase") == "Running":
                seen[name] = time.perf_counter() - start
        time.sleep(0.05)
    for b in bodies:
        api.delete("pods", b["metadata"]["name"], "default", grace_period_seconds=0)
    client = m.docker()
    wait_for(lambda: not client.api.containers(all=True, filters={
        "label": "io.kubernetes.pod.uid"}), 120, what="the bench pods removed")
    wait_for(lambda: not api.list("pods", "default")["items"], 60, what="the pod objects gone")
    if len(seen) < n:
        raise SystemExit(f"only {len(seen)} of {n} pods ran within 120 s")
    return list(seen.values())


def docker_burst(m, n):
    client = m.docker()
    times, made = [None] * n, []

    def one(i):
        sandbox = client.containers.run("kfs/pause:1", name=f"raw-pod{i}", hostname=f"raw{i}",
                                        ipc_mode="shareable", detach=True)
        app = client.containers.run("kfs/busybox:1", ["sleep", "3600"], name=f"raw-app{i}",
                                    network_mode=f"container:{sandbox.id}",
                                    ipc_mode=f"container:{sandbox.id}", detach=True)
        times[i] = time.perf_counter() - start
        made.extend([sandbox, app])
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for c in made:
        c.remove(force=True)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--via", choices=("file", "api"), default="file",
                        help="manifests in the directory, or pods created in the API server")
    args = parser.parse_args()
    lab = Lab(name=os.environ.get("KFS_LAB", "kfsbk"),
              subnet=os.environ.get("KFS_LAB_SUBNET", "192.168.62.0/24"))
    created = not lab.exists
    lab.up(stage="kubelet" if args.via == "file" else "apiserver", **quiet)
    try:
        measure(lab, args)
    finally:  # a lab this run made goes again (KFS_KEEP_LAB=1 keeps it for a look)
        if created and not os.environ.get("KFS_KEEP_LAB"):
            lab.down(**quiet)


def measure(lab, args):
    m = lab.machine("node1")
    kubelet, raw = [], []
    for _ in range(args.runs):
        raw += docker_burst(m, args.pods)
        kubelet += kubelet_burst(m, args.pods) if args.via == "file" else \
            api_burst(lab, m, args.pods)
    k50, k99 = percentile(kubelet, 50), percentile(kubelet, 99)
    r50, r99 = percentile(raw, 50), percentile(raw, 99)
    print(f"burst of {args.pods} pods x {args.runs} runs on {m.name} (lab {lab.name})")
    what = "manifest written" if args.via == "file" else "pod created  "
    print(f"kubelet ({what} -> Running): p50 {k50:.2f} s  p99 {k99:.2f} s  "
          f"mean {statistics.mean(kubelet):.2f} s")
    print(f"raw docker run (sandbox + app):        p50 {r50:.2f} s  p99 {r99:.2f} s")
    print(f"ratio kubelet / raw docker:            p50 {k50 / r50:.1f}x  p99 {k99 / r99:.1f}x")


if __name__ == "__main__":
    main()
