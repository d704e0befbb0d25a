"""Scheduler throughput: pods bound per second over 100 nodes, against the raw binding rate.

    .venv/bin/python bench/scheduler_throughput.py [--nodes 100] [--pods 500]

Starts etcd and ``kfs apiserver`` on loopback (``kfs.apiserver.local``), creates ``--nodes``
Node objects (no kubelets: to the scheduler a node is only its object), then measures in
the same run:

1. **raw binding writes**: ``--pods`` pending pods bound directly (``POST pods/binding``)
   by as many threads as the scheduler has binders, round-robin over the nodes, with no
   decision at all: the most the API server and etcd allow;
2. **the scheduler**: ``--pods`` other pending pods, then ``kfs scheduler`` (its own process,
   the kube-scheduler identity) started; the rate is counted from the first binding an
   informer sees to the last, so the scheduler's start-up is not in it;
3. for reference, decisions per second of the framework alone (filters and scores over the
   same nodes, in this process, no API calls).

Prints the rates and the ratio scheduler / raw. The scheduler also writes a ``Scheduled``
Event per pod (as kube-scheduler does), so the API server does two writes per pod for it and
one for the raw run: a ratio near 0.5 means the API server, not the decisions, sets the pace.
Each measurement also prints the bench process's own CPU per pod (its load threads and
informer) and how busy the whole machine was: near 100 %, the cores, not one process,
set the rate, and the CPU per pod of every process together is what to compare.
Everything is stopped by PID at the end.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from kfs import meta, pki
from kfs.apiserver.local import LocalControlPlane
from kfs.client import Client, Informer
from kfs.util import wait_for
from proc import CpuMeter, profile, stop_profile

BINDERS = 16  # Scheduler's default bind_workers


def node(i):
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"node-{i:03d}",
                         "labels": {"kubernetes.io/hostname": f"node-{i:03d}"}},
            "status": {"allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod(name, scheduler_name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": scheduler_name,
                     "containers": [{"name": "app", "image": "kfs/echo:1",
                                     "resources": {"requests": {"cpu": "100m",
                                                                "memory": "64Mi"}}}]}}


def create_namespace(client, name):
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def create_pods(client, ns, count, scheduler_name):
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda i: client.create(pod(f"p{i:04d}", scheduler_name),
                                                     namespace=ns), range(count)))


def scheduled_event(pod, node_name):
    """The Event kfs scheduler writes for a pod it bound (EventRecorder's body)."""
    at = meta.now()
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{meta.name(pod)}.{time.time_ns():x}"},
            "involvedObject": {"kind": "Pod", "apiVersion": "v1", "name": meta.name(pod),
                               "namespace": meta.namespace(pod), "uid": pod["metadata"]["uid"],
                               "resourceVersion": pod["metadata"]["resourceVersion"]},
            "reason": "Scheduled", "type": "Normal", "count": 1,
            "message": f"Successfully assigned {meta.key(pod)} to {node_name}",
            "firstTimestamp": at, "lastTimestamp": at,
            "source": {"component": "bench"}, "reportingComponent": "bench",
            "reportingInstance": ""}


def raw_binding_rate(cp, client, pods, nodes, with_events=False):
    """(bindings per second, {process: µs of CPU per binding}, share of the machine's cores
    busy), while an informer watches
    the namespace as the scheduler run's does; `with_events`: each binding followed by the
    Scheduled Event the scheduler would write, so both of its writes per pod."""
    informer = Informer(client, "pods", namespace=meta.namespace(pods[0])).start()
    informer.wait_synced(30)
    meter = CpuMeter({"apiserver": cp.procs["apiserver"].pid, "etcd": cp.procs["etcd"].pid,
                      "bench": os.getpid()})

    def bind(i, p):
        client.bind(p, nodes[i % len(nodes)])
        if with_events:
            client.create(scheduled_event(p, nodes[i % len(nodes)]), meta.namespace(p))
    meter.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(BINDERS) as pool:
        list(pool.map(lambda ip: bind(*ip), enumerate(pods)))
    took = time.perf_counter() - start
    used = meter.stop()
    informer.stop()
    return len(pods) / took, {name: 1e6 * u / len(pods) for name, u in used.items()}, meter.busy


def scheduler_rate(cp, client, ns, count, workdir, py_spy=None, py_spy_apiserver=None):
    """Start kfs scheduler over `count` pending pods: (bound pods per second, {process: µs
    of CPU per pod}, share of the machine's cores busy) from the first binding an informer sees to the last; `py_spy*`: files
    to sample the scheduler's and the API server's Python work into meanwhile."""
    seen, meter, spy = {}, None, []
    informer = Informer(client, "pods", namespace=ns)

    def on_pod(kind, obj, old):
        if obj["spec"].get("nodeName") and meta.name(obj) not in seen:
            if not seen:
                meter.start()
                if py_spy:
                    spy.append(profile(proc.pid, py_spy))
                if py_spy_apiserver:
                    spy.append(profile(cp.procs["apiserver"].pid, py_spy_apiserver))
            seen[meta.name(obj)] = time.perf_counter()
            if len(seen) == count:
                meter.stop()
    informer.add_handler(on_pod).start().wait_synced(30)
    kubeconfig = workdir / "kube-scheduler.kubeconfig"
    pki.write_kubeconfig(kubeconfig, cp.server, cp.pki.ca, "system:kube-scheduler",
                         cp.pki.cert("kube-scheduler"), cp.pki.key("kube-scheduler"))
    log = open(workdir / "scheduler.log", "wb")
    argv = [sys.executable, "-m", "kfs.cli", "scheduler", "--kubeconfig", str(kubeconfig),
            "--scheduler-name", "bench-scheduler", "-v", "0"]
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    meter = CpuMeter({"scheduler": proc.pid, "apiserver": cp.procs["apiserver"].pid,
                      "etcd": cp.procs["etcd"].pid, "bench": os.getpid()})
    try:
        wait_for(lambda: len(seen) >= count or proc.poll() is not None, 600,
                 interval=0.05, what=f"{count} pods bound by the scheduler")
        if proc.poll() is not None:
            raise RuntimeError(f"kfs scheduler exited; see {workdir / 'scheduler.log'}")
        wait_for(lambda: meter.used, 10, what="the last binding's CPU reading")
    finally:
        for p in spy:
            stop_profile(p)
        proc.terminate()
        proc.wait(15)
        log.close()
        informer.stop()
    times = sorted(seen.values())
    return ((count - 1) / (times[-1] - times[0]),
            {name: 1e6 * used / (count - 1) for name, used in meter.used.items()}, meter.busy)


def decision_rate(client, count):
    """Decisions per second of the framework alone over the cluster's current state."""
    from kfs.scheduler import plugins
    from kfs.scheduler.cache import snapshot
    from kfs.scheduler.framework import Framework
    framework = Framework(plugins.FILTERS, plugins.default_scores())
    cache = snapshot(client.list("nodes")["items"], client.list("pods")["items"])
    start = time.perf_counter()
    for i in range(count):
        p = {**pod(f"d{i}", "x"), "metadata": {"name": f"d{i}", "namespace": "d",
                                               "uid": f"d{i}"}}
        result = framework.schedule_pod(p, cache.node_infos())
        cache.assume_pod(p, result.suggested_host)
    return count / (time.perf_counter() - start)


def cpu_text(cpu, busy):
    return (", ".join(f"{name} {us:.0f} µs" for name, us in cpu.items()) +
            f"; machine {100 * busy:.0f} % busy ({os.cpu_count()} cores)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--pods", type=int, default=500)
    parser.add_argument("--py-spy", metavar="FILE", help="sample the scheduler with py-spy "
                        "(pip install py-spy) into FILE: .svg flame graph, .json speedscope, "
                        ".txt collapsed stacks")
    parser.add_argument("--py-spy-apiserver", metavar="FILE",
                        help="sample the API server likewise while the scheduler binds")
    args = parser.parse_args()
    if 3 * args.pods > 110 * args.nodes:
        parser.error(f"--pods {args.pods} three times over (raw, raw + events, scheduler) "
                     f"does not fit {args.nodes} nodes of 110 pods: at most "
                     f"{110 * args.nodes // 3} pods, or more --nodes")
    workdir = Path(tempfile.mkdtemp(prefix="kfs-bench-sched-"))
    with LocalControlPlane(workdir / "cp") as cp:
        client = Client.from_kubeconfig(cp.kubeconfig(), pool_maxsize=16)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: client.create(node(i)), range(args.nodes)))
        nodes = [meta.name(n) for n in client.list("nodes")["items"]]
        for ns in ("raw", "rawev", "sched"):
            create_namespace(client, ns)
        raw_pods = create_pods(client, "raw", args.pods, "nobody")
        raw, raw_cpu, raw_busy = raw_binding_rate(cp, client, raw_pods, nodes)
        rawev_pods = create_pods(client, "rawev", args.pods, "nobody")
        rawev, rawev_cpu, rawev_busy = raw_binding_rate(cp, client, rawev_pods, nodes,
                                                        with_events=True)
        create_pods(client, "sched", args.pods, "bench-scheduler")
        sched, cpu, busy = scheduler_rate(cp, client, "sched", args.pods, workdir, args.py_spy,
                                    args.py_spy_apiserver)
        decisions = decision_rate(client, min(args.pods, 500))
    print(f"nodes: {args.nodes} (Node objects only), pods: {args.pods} per measurement")
    print(f"raw binding writes ({BINDERS} threads, no decisions): {raw:7.1f} bindings/s   "
          f"CPU per binding: {cpu_text(raw_cpu, raw_busy)}")
    print(f"raw bindings + Scheduled events:           {rawev:7.1f} pods/s       "
          f"CPU per pod: {cpu_text(rawev_cpu, rawev_busy)}")
    print(f"kfs scheduler (its own process):           {sched:7.1f} pods bound/s")
    print(f"                                           {'':7}              "
          f"CPU per pod: {cpu_text(cpu, busy)}")
    print(f"ratio scheduler / raw bindings:            {sched / raw:7.2f}")
    print(f"ratio scheduler / raw bindings + events:   {sched / rawev:7.2f}")
    print(f"the scheduler's own ceiling (1 core / its CPU per pod): "
          f"{1e6 / cpu['scheduler']:.0f} pods/s")
    print(f"framework alone (filters + scores over {args.nodes} nodes, {args.pods * 2} pods "
          f"placed): {decisions:.0f} decisions/s")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
