"""API server throughput and watch latency, against raw etcd in the same run.

On a LocalControlPlane (etcd + kfs apiserver on 127.0.0.1, TLS everywhere, no lab, no root):

- raw etcd: N puts of a pod's stored JSON through python-etcd3 (the library the API server
  uses), with 1 and 16 threads;
- pod creates: N POSTs of the same pod through ``kfs.client`` (one keep-alive session per
  client thread), with 1 and 16 clients; reported also as a ratio to raw etcd;
- bindings: N ``pods/binding`` POSTs with 16 clients (what the scheduler writes);
- watch delivery: a watch on the namespace; for M pods created one after another, the time
  from just before the POST to the ADDED event's arrival; p50 and p99.

    .venv/bin/python bench/apiserver_throughput.py [--pods 300] [--watch 200]
"""
import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import etcd3

from kfs.apiserver.local import LocalControlPlane
from kfs.client import Client
from kfs.util import wait_for


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def pod(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"b": "1"}},
            "spec": {"containers": [{"name": "app", "image": "kfs/busybox:1",
                                     "command": ["sleep", "3600"]}]}}


def rate(n, threads, work):
    """Operations per second for `work(i)` over i in range(n), on `threads` threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(n)))
    return n / (time.perf_counter() - start)


def raw_etcd(cp, n, threads, payload):
    client = etcd3.client("127.0.0.1", cp.etcd_port, ca_cert=str(cp.pki.etcd_ca),
                          cert_cert=str(cp.pki.cert("apiserver-etcd-client")),
                          cert_key=str(cp.pki.key("apiserver-etcd-client")))
    try:
        return rate(n, threads, lambda i: client.put(f"/bench/raw/{threads}/{i}", payload))
    finally:
        client.delete_prefix(f"/bench/raw/{threads}/")
        client.close()


def clients(cp, count):
    local = threading.local()

    def get():
        if not hasattr(local, "client"):
            local.client = Client.from_kubeconfig(cp.kubeconfig(), user_agent="bench")
        return local.client
    return get


def creates(cp, n, threads, namespace):
    client = clients(cp, threads)
    return rate(n, threads, lambda i: client().create(pod(f"p{threads}-{i}"), namespace))


def bindings(cp, n, namespace):
    client = clients(cp, 16)
    return rate(n, 16, lambda i: client().bind(
        {"metadata": {"name": f"p16-{i}", "namespace": namespace}}, "node1"))


def watch_latency(cp, m, namespace):
    api = Client.from_kubeconfig(cp.kubeconfig(), user_agent="bench-watch")
    writer = Client.from_kubeconfig(cp.kubeconfig(), user_agent="bench-writer")
    rv = api.list("pods", namespace)["metadata"]["resourceVersion"]
    arrived, sent = {}, {}

    def follow():
        for kind, obj in api.watch("pods", namespace, resource_version=rv, timeout_seconds=120):
            if kind == "ADDED":
                arrived[obj["metadata"]["name"]] = time.perf_counter()
                if len(arrived) == m:
                    return
    t = threading.Thread(target=follow, daemon=True)
    t.start()
    time.sleep(0.5)  # the watch request is on its way; nothing to wait on from here
    for i in range(m):
        name = f"w{i}"
        sent[name] = time.perf_counter()
        writer.create(pod(name), namespace)
    wait_for(lambda: len(arrived) == m, 60, what="every watch event")
    return [1000 * (arrived[k] - sent[k]) for k in sent]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=300, help="writes per measurement (<= 2000)")
    ap.add_argument("--watch", type=int, default=200, help="pods for the watch latency")
    args = ap.parse_args()
    n = min(args.pods, 2000)
    with LocalControlPlane(compaction_interval="0") as cp:
        admin = Client.from_kubeconfig(cp.kubeconfig())
        for ns in ("bench", "watch"):
            admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        stored = admin.create(pod("sample"), "bench", dry_run=True)
        payload = json.dumps(stored)
        results = {}
        for threads in (1, 16):
            raw = raw_etcd(cp, n, threads, payload)
            api = creates(cp, n, threads, "bench")
            results[threads] = (raw, api)
            print(f"{threads:2} client(s): raw etcd put {raw:7.0f}/s   pod create {api:6.0f}/s   "
                  f"ratio {api / raw:.2f}")
        print(f"16 clients: pods/binding {bindings(cp, n, 'bench'):6.0f}/s")
        lat = watch_latency(cp, min(args.watch, 1000), "watch")
        print(f"watch delivery: p50 {statistics.median(lat):.1f} ms   p99 "
              f"{percentile(lat, 99):.1f} ms   (n={len(lat)})")


if __name__ == "__main__":
    main()
