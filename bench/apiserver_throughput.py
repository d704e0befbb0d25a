"""API server throughput and watch latency, against raw etcd in the same run.

On a LocalControlPlane (etcd + kfs apiserver on 127.0.0.1, TLS everywhere, no lab, no root):

- raw etcd: N puts of a pod's stored JSON through python-etcd3 (the library the API server
  uses), with 1 and 16 clients;
- pod creates: N POSTs of the same pod through ``kfs.client`` (one keep-alive session per
  client), with 1 and 16 clients; reported also as a ratio to raw etcd;
- bindings: N ``pods/binding`` POSTs with 16 clients (what the scheduler writes);
- **server-side CPU**: for each measurement, the CPU the API server and etcd processes
  used (``/proc/<pid>/stat``, user + system), in µs per operation: what the server costs,
  apart from what the load generator costs.

The load generators run in processes of their own (16 clients: 4 processes of 4 threads),
never in the process that reads the figures, so the client's own Python work competes with
the server only for the machine's cores, not for one interpreter's lock. On 2 cores the
clients still take CPU from the server: the µs per operation are the steadier figure.
- watch delivery: a watch on the namespace; for M pods created one after another, the time
  from just before the POST to the ADDED event's arrival; p50 and p99.

    .venv/bin/python bench/apiserver_throughput.py [--pods 300] [--watch 200]
"""
import argparse
import json
import multiprocessing
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import etcd3

from kfs.apiserver.local import LocalControlPlane
from kfs.client import Client
from kfs.util import wait_for
from proc import CpuMeter, profile, stop_profile


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


# -- the load generators, each in a process of its own ---------------------------------------

def raw_etcd_work(cp, tag, payload):
    client = etcd3.client("127.0.0.1", cp.etcd_port, ca_cert=str(cp.pki.etcd_ca),
                          cert_cert=str(cp.pki.cert("apiserver-etcd-client")),
                          cert_key=str(cp.pki.key("apiserver-etcd-client")))
    return lambda i: client.put(f"/bench/raw/{tag}/{i}", payload)


def api_clients(cp):
    local = threading.local()

    def get():
        if not hasattr(local, "client"):
            local.client = Client.from_kubeconfig(cp.kubeconfig(), user_agent="bench")
        return local.client
    return get


def create_work(cp, tag, namespace):
    client = api_clients(cp)
    return lambda i: client().create(pod(f"p{tag}-{i}"), namespace)


def binding_work(cp, tag, namespace):
    client = api_clients(cp)
    return lambda i: client().bind({"metadata": {"name": f"p{tag}-{i}",
                                                 "namespace": namespace}}, "node1")


def generator(make, cp, tag, args, ids, threads, ready, go, out):
    work = make(cp, tag, *args)
    ready.wait()          # every generator built its clients: start together
    go.wait()
    def timed(i):
        start = time.perf_counter()
        work(i)
        return time.perf_counter() - start
    with ThreadPoolExecutor(threads) as pool:
        out.put(list(pool.map(timed, ids)))  # each operation's latency, seconds


def measure(cp, make, n, clients, tag, *args, py_spy=None):
    """(operations/s, µs of API server CPU per op, µs of etcd CPU per op, p50 latency in
    ms) for n operations spread over `clients` clients in min(clients, 4) processes;
    `py_spy`: a file for a profile of the API server while they run."""
    procs_n = min(clients, 4)
    ctx = multiprocessing.get_context("fork")
    ready, go, out = ctx.Barrier(procs_n + 1), ctx.Event(), ctx.Queue()
    ids = list(range(n))
    procs = [ctx.Process(target=generator, args=(make, cp, tag, args, ids[k::procs_n],
                                                 clients // procs_n, ready, go, out))
             for k in range(procs_n)]
    for p in procs:
        p.start()
    ready.wait()
    spy = profile(cp.procs["apiserver"].pid, py_spy) if py_spy else None
    meter = CpuMeter({name: cp.procs[name].pid for name in ("apiserver", "etcd")}).start()
    start = time.perf_counter()
    go.set()
    latencies = [x for _ in procs for x in out.get(timeout=600)]
    done = len(latencies)
    took = time.perf_counter() - start
    used = meter.stop()
    if spy:
        stop_profile(spy)
    for p in procs:
        p.join()
    return (done / took, 1e6 * used["apiserver"] / done, 1e6 * used["etcd"] / done,
            1e3 * statistics.median(latencies))


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
    ap.add_argument("--py-spy", metavar="FILE", help="profile the API server during the "
                    "16-client pod creates with py-spy (pip install py-spy) into FILE: .svg "
                    "flame graph, .json speedscope, .txt collapsed stacks")
    args = ap.parse_args()
    n = min(args.pods, 2000)
    with LocalControlPlane(compaction_interval="0") as cp:
        admin = Client.from_kubeconfig(cp.kubeconfig())
        for ns in ("bench", "watch"):
            admin.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        stored = admin.create(pod("sample"), "bench", dry_run=True)
        payload = json.dumps(stored)
        print("                       ops/s   API server CPU/op   etcd CPU/op   p50 latency")
        for clients in (1, 16):
            raw, _, raw_etcd_cpu, raw_p50 = measure(cp, raw_etcd_work, n, clients, clients,
                                                    payload)
            api, api_cpu, etcd_cpu, p50 = measure(
                cp, create_work, n, clients, clients, "bench",
                py_spy=args.py_spy if clients == 16 else None)
            print(f"{clients:2} client(s): raw etcd put {raw:7.0f}          -        "
                  f"{raw_etcd_cpu:7.0f} µs   {raw_p50:6.2f} ms")
            print(f"             pod create   {api:7.0f}   {api_cpu:9.0f} µs   "
                  f"{etcd_cpu:9.0f} µs   {p50:6.2f} ms   ratio to raw {api / raw:.2f}, "
                  f"p50 {p50 / raw_p50:.1f}x raw")
        rate_, api_cpu, etcd_cpu, p50 = measure(cp, binding_work, n, 16, 16, "bench")
        print(f"16 clients: pods/binding {rate_:7.0f}/s   {api_cpu:9.0f} µs   {etcd_cpu:9.0f} µs"
              f"   {p50:6.2f} ms")
        lat = watch_latency(cp, min(args.watch, 1000), "watch")
        print(f"watch delivery: p50 {statistics.median(lat):.1f} ms   p99 "
              f"{percentile(lat, 99):.1f} ms   (n={len(lat)})")


if __name__ == "__main__":
    main()
