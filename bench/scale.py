"""How the control plane's cost grows with the cluster: hollow nodes at several sizes.

    .venv/bin/python bench/scale.py [--sizes 10,100] [--pods-per-node 30] [--plot scale.png]

For each size N (a fresh etcd and ``kfs apiserver`` on loopback each time, as
``kfs.apiserver.local`` starts them):

1. **N hollow nodes**, as upstream's kubemark and kwok make them: a Node object each, and
   one process (this one, a thread pool) doing what their kubelets would tell the API
   server: the Lease ``kube-node-lease/<node>`` renewed every 10 s (upstream's
   renewInterval) and the node status posted every 60 s; no Docker, no pods run;
2. **N x 30 pods created** (8 client threads): pods created per second;
3. **bound by the real scheduler** (``kfs scheduler``, its own process, as in
   ``scheduler_throughput.py``): pods bound per second, from the first binding an
   informer sees to the last, and the scheduler's CPU per pod meanwhile;
4. **list all pods** (``GET /api/v1/pods``, every namespace) ``--lists`` times: p50, p99;
5. **watch delivery with 100 watchers** (4 processes of 25 watch streams on one
   namespace): ``--watch-pods`` pods created one after another; for every watcher and
   pod, the time from just before the POST to the ADDED event's arrival: p50, p99;
6. the API server's **RSS** (``/proc``) and the **etcd database size** (its bbolt file,
   ``member/snap/db``), at the end.

Printed as a table, and with ``--plot FILE`` a log-log plot of each figure against the
number of nodes (matplotlib). The hollow nodes' heartbeats go on during every phase, so
a larger cluster's phases also share the API server with its heartbeats.
"""
import argparse
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kfs import meta, pki
from kfs.apiserver.local import LocalControlPlane
from kfs.client import Client, Informer
from kfs.kubelet.node import LEASE_NAMESPACE, micro_now
from kfs.util import wait_for
from proc import CpuMeter, rss_bytes

LEASE_EVERY, STATUS_EVERY = 10.0, 60.0
WATCHERS, WATCH_PROCESSES = 100, 4


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def node(name):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "kfs.io/hollow": "true"}},
            "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "conditions": [ready_condition()]}}


def ready_condition():
    now = meta.now()
    return {"type": "Ready", "status": "True", "reason": "KubeletReady",
            "message": "hollow kubelet is posting ready status",
            "lastHeartbeatTime": now, "lastTransitionTime": now}


def pod(name, scheduler_name="bench-scheduler"):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler_name,
                     "containers": [{"name": "app", "image": "kfs/echo:1",
                                     "resources": {"requests": {"cpu": "10m",
                                                                "memory": "16Mi"}}}]}}


class HollowNodes:
    """N Node objects and their kubelets' heartbeats, from one thread pool: each node's
    Lease renewed every LEASE_EVERY seconds, its status posted every STATUS_EVERY."""

    def __init__(self, client, count):
        self.client, self.names = client, [f"hollow-{i:04d}" for i in range(count)]
        self.leases, self.stopped = {}, threading.Event()
        self.pool = ThreadPoolExecutor(8, "hollow")

    def register(self):
        def one(name):
            n = self.client.create(node(name))
            self.leases[name] = self.client.create({
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": LEASE_NAMESPACE,
                             "ownerReferences": [{"apiVersion": "v1", "kind": "Node",
                                                  "name": name, "uid": n["metadata"]["uid"]}]},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": micro_now()}})
        list(self.pool.map(one, self.names))
        threading.Thread(target=self.run, daemon=True, name="hollow-heartbeats").start()
        return self

    def renew(self, name):
        lease = self.leases[name]
        lease = {**lease, "spec": {**lease["spec"], "renewTime": micro_now()}}
        try:
            self.leases[name] = self.client.replace(lease)
        except Exception:  # a conflict or a hiccup: read it again next time
            self.leases[name] = self.client.get("leases", name, LEASE_NAMESPACE)

    def post_status(self, name):
        self.client.patch("nodes", name, {"status": {"conditions": [ready_condition()]}},
                          subresource="status")

    def run(self):
        """Spread each kind of heartbeat evenly over its period, as N kubelets started at
        random times would."""
        start, due = time.monotonic(), []
        for i, name in enumerate(self.names):
            due.append((start + LEASE_EVERY * i / len(self.names), "lease", name))
            due.append((start + STATUS_EVERY * i / len(self.names), "status", name))
        while not self.stopped.is_set():
            due.sort()
            at, kind, name = due.pop(0)
            if self.stopped.wait(max(0.0, at - time.monotonic())):
                return
            self.pool.submit(self.renew if kind == "lease" else self.post_status, name)
            due.append((at + (LEASE_EVERY if kind == "lease" else STATUS_EVERY), kind, name))

    def stop(self):
        self.stopped.set()
        self.pool.shutdown(wait=True, cancel_futures=True)


def create_rate(client, namespace, count):
    start = time.perf_counter()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: client.create(pod(f"p{i:05d}"), namespace), range(count)))
    return count / (time.perf_counter() - start)


def bind_rate(cp, client, namespace, count, workdir):
    """kfs scheduler started over `count` pending pods: (bound pods per second, ms of the
    scheduler's CPU per pod), from the first binding an informer sees to the last."""
    seen, meter = {}, []

    def on_pod(kind, obj, old):
        if obj["spec"].get("nodeName") and meta.name(obj) not in seen:
            if not seen:
                meter[0].start()
            seen[meta.name(obj)] = time.perf_counter()
            if len(seen) == count:
                meter[0].stop()
    informer = Informer(client, "pods", namespace=namespace).add_handler(on_pod).start()
    informer.wait_synced(120)
    kubeconfig = workdir / "kube-scheduler.kubeconfig"
    pki.write_kubeconfig(kubeconfig, cp.server, cp.pki.ca, "system:kube-scheduler",
                         cp.pki.cert("kube-scheduler"), cp.pki.key("kube-scheduler"))
    with open(workdir / "scheduler.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "kfs.cli", "scheduler", "--kubeconfig",
                                 str(kubeconfig), "--scheduler-name", "bench-scheduler",
                                 "-v", "0"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    meter.append(CpuMeter({"scheduler": proc.pid}))
    try:
        wait_for(lambda: meter[0].used or proc.poll() is not None, 1800, interval=0.1,
                 what=f"{count} pods bound by the scheduler")
        if proc.poll() is not None:
            raise RuntimeError(f"kfs scheduler exited; see {workdir / 'scheduler.log'}")
    finally:
        proc.terminate()
        proc.wait(15)
        informer.stop()
    times = sorted(seen.values())
    return (count - 1) / (times[-1] - times[0]), 1e3 * meter[0].used["scheduler"] / (count - 1)


def list_latencies(client, repeats):
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        client.list("pods")
        out.append(1000 * (time.perf_counter() - start))
    return out


# -- watch delivery: watchers in processes of their own ---------------------------------------

def watchers(kubeconfig, namespace, rv, threads, expect, ready, out):
    """`threads` watch streams; put {pod name: [monotonic arrival per stream]} on `out`."""
    client = Client.from_kubeconfig(kubeconfig, user_agent="bench-watch", pool_maxsize=threads)
    arrived, lock, opened = {}, threading.Lock(), threading.Barrier(threads + 1)

    def follow():
        seen, first = 0, True
        for kind, obj in client.watch("pods", namespace, resource_version=rv,
                                      timeout_seconds=300, response_hook=lambda r: opened.wait()):
            if kind == "ADDED":
                with lock:
                    arrived.setdefault(meta.name(obj), []).append(time.monotonic())
                seen += 1
                if seen == expect:
                    return
    pool = [threading.Thread(target=follow, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    opened.wait()  # every watch request has its response headers: the streams are open
    ready.wait()
    for t in pool:
        t.join(300)
    out.put(arrived)


def watch_delivery(cp, client, namespace, count):
    """Delivery latencies in ms, one per (watcher, pod)."""
    rv = client.list("pods", namespace)["metadata"]["resourceVersion"]
    ctx = multiprocessing.get_context("fork")
    ready, out = ctx.Barrier(WATCH_PROCESSES + 1), ctx.Queue()
    procs = [ctx.Process(target=watchers, args=(str(cp.kubeconfig()), namespace, rv,
                                                WATCHERS // WATCH_PROCESSES, count, ready, out))
             for _ in range(WATCH_PROCESSES)]
    for p in procs:
        p.start()
    ready.wait(120)
    sent = {}
    for i in range(count):
        name = f"w{i:04d}"
        sent[name] = time.monotonic()
        client.create(pod(name, "nobody"), namespace)
    arrivals = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(30)
    return [1000 * (t - sent[name]) for a in arrivals for name, ts in a.items() for t in ts]


def measure(size, args, workdir):
    row = {"nodes": size, "pods": size * args.pods_per_node}
    with LocalControlPlane(workdir / f"cp-{size}", compaction_interval="0") as cp:
        client = Client.from_kubeconfig(cp.kubeconfig(), user_agent="bench", pool_maxsize=16)
        for ns in ("scale", "watch"):
            client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        hollow = HollowNodes(client, size).register()
        try:
            row["created/s"] = create_rate(client, "scale", row["pods"])
            row["bound/s"], row["sched CPU ms/pod"] = bind_rate(cp, client, "scale",
                                                                row["pods"], workdir)
            lists = list_latencies(client, args.lists)
            row["list p50 ms"], row["list p99 ms"] = statistics.median(lists), \
                percentile(lists, 99)
            lat = watch_delivery(cp, client, "watch", args.watch_pods)
            row["watch p50 ms"], row["watch p99 ms"] = statistics.median(lat), \
                percentile(lat, 99)
            row["apiserver RSS MiB"] = rss_bytes(cp.procs["apiserver"].pid) / 2 ** 20
            row["etcd db MiB"] = (cp.dir / "etcd" / "member" / "snap" / "db").stat().st_size \
                / 2 ** 20
        finally:
            hollow.stop()
    return row


COLUMNS = ["nodes", "pods", "created/s", "bound/s", "sched CPU ms/pod", "list p50 ms", "list p99 ms",
           "watch p50 ms", "watch p99 ms", "apiserver RSS MiB", "etcd db MiB"]


def table(rows):
    widths = [max(7, len(c)) for c in COLUMNS]
    lines = ["  ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths))]
    for r in rows:
        lines.append("  ".join(f"{r[c]:{w}.0f}" if r[c] >= 100 or c in ("nodes", "pods")
                               else f"{r[c]:{w}.1f}" for c, w in zip(COLUMNS, widths)))
    return "\n".join(lines)


def plot(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    metrics = COLUMNS[2:]
    fig, axes = plt.subplots(3, 3, figsize=(14, 10))
    nodes = [r["nodes"] for r in rows]
    for ax, m in zip(axes.flat, metrics):
        ax.loglog(nodes, [r[m] for r in rows], "o-")
        ax.set_title(m)
        ax.set_xlabel("nodes")
        ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"kfs control plane against cluster size ({rows[0]['pods'] // nodes[0]} "
                 f"pods per node, hollow nodes)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100",
                    help="node counts, comma-separated (default 10,100: about a minute on "
                    "2 cores; the issue's 10,100,500 takes about 5)")
    ap.add_argument("--pods-per-node", type=int, default=30)
    ap.add_argument("--lists", type=int, default=10, help="lists of all pods per size")
    ap.add_argument("--watch-pods", type=int, default=50,
                    help="pods created for the watch delivery, each seen by 100 watchers")
    ap.add_argument("--plot", metavar="FILE.png", help="write the log-log plot there")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kfs-bench-scale-"))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        start = time.perf_counter()
        rows.append(measure(size, args, workdir))
        print(f"{size} nodes measured in {time.perf_counter() - start:.0f} s", flush=True)
    print(table(rows))
    if args.plot:
        plot(rows, args.plot)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
