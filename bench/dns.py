"""Cluster DNS: queries per second and p99 latency of kfs dns, against a static dnslib server.

    .venv/bin/python bench/dns.py [--services 20] [--seconds 1] [--concurrency 4] [--rounds 3]
    .venv/bin/python bench/dns.py --target HOST:PORT --name web.default.svc.cluster.local ...
    KFS_LAB=... .venv/bin/python bench/dns.py --lab      # from a pod, the lab at stage dns

By default it starts etcd and ``kfs apiserver`` on loopback (``kfs.apiserver.local``),
creates ``--services`` Services (and one headless Service with three ready endpoints), and
starts ``kfs dns`` as its own process on a free port of 127.0.0.1, fed by that control
plane through its watch, with no upstream. With ``--target`` it measures a kfs dns that
already runs there instead, asking for the ``--name``s given.

With ``--lab`` (the lab ``KFS_LAB`` names, at stage ``dns`` or later) the queries come
**from a pod**: a busybox pod on node1, the load generator run in its network namespace
(``nsenter --net=/proc/<pause pid>/ns/net``, this script with ``--measure-only``), asking
``10.96.0.10`` — node1's kube-proxy DNATs it to ``kfs dns`` on cp, as every pod's query
goes. The static server then runs in cp's network namespace on another port, behind a
Service of its own (``bench-static-dns``, no selector, an EndpointSlice naming cp), so its
queries take the same path: pod, ClusterIP, DNAT, cp. The mix is the ``kubernetes``
Service, kube-dns itself and ``--services`` Services made in namespace ``bench`` (deleted
at the end, with the pod and the static Service).

Then, in the same run:

1. the answers of kfs dns to every query of the mix (each name's A, and the SRV of the
   named port) are fetched once over TCP and written as a zone file;
2. **the static server**: ``python -m dnslib.zoneresolver`` (dnslib's own zone-file
   server, UDP and TCP, its own process) serves that zone on another free loopback port:
   the same answers with no index, no watch, no metrics: what a DNS server in Python
   costs at least;
3. each server gets the same bounded load: ``--concurrency`` client threads, each with one
   UDP socket and one query in flight, cycling through the mix for ``--seconds`` (at most
   ``--max-queries`` queries, 1 s timeout each), after a short warm-up; ``--rounds``
   rounds, the two servers taking turns, so that a busy moment of the machine hits both.

Prints the medians of queries/s, p50 and p99 latency for both and the ratios kfs dns /
static (queries/s: higher is better, 1.0 is as fast; latency: lower is better). The load
generator shares the two cores with the servers, so the absolute numbers are the
machine's, the ratio is the result. Everything is stopped by PID at the end.
"""
import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dnslib import DNSRecord

from kfs import pki
from kfs.apiserver.local import LocalControlPlane, free_port
from kfs.client import Client
from kfs.util import wait_for

NS = "bench"


def host_port(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def ask(address, name, qtype="A", tcp=False, timeout=2):
    q = DNSRecord.question(name, qtype)
    return DNSRecord.parse(q.send(address[0], address[1], tcp=tcp, timeout=timeout))


# -- what is measured ----------------------------------------------------------------------------

def make_services(client, count):
    """`count` Services and a headless one with 3 ready endpoints; the names to ask for."""
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    for i in range(count):
        client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc{i}"},
                       "spec": {"ports": [{"name": "http", "port": 80}]}}, namespace=NS)
    client.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"},
                   "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}},
                  namespace=NS)
    client.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"name": "db-1", "labels": {"kubernetes.io/service-name": "db"}},
                   "addressType": "IPv4",
                   "endpoints": [{"addresses": [f"10.1.0.{i}"], "conditions": {"ready": True}}
                                 for i in (1, 2, 3)],
                   "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}]}, namespace=NS)
    names = [f"svc{i}.{NS}.svc.cluster.local" for i in range(count)]
    return [(n, "A") for n in names + [f"db.{NS}.svc.cluster.local"]] + [
        (f"_http._tcp.{names[0]}", "SRV"), (f"_pg._tcp.db.{NS}.svc.cluster.local", "SRV")]


def start_kfs_dns(cp, workdir, port):
    kubeconfig = workdir / "kube-dns.kubeconfig"
    pki.write_kubeconfig(kubeconfig, cp.server, cp.pki.ca, "system:kube-dns",
                         cp.pki.cert("kube-dns"), cp.pki.key("kube-dns"))
    log = open(workdir / "dns.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "kfs.cli", "dns", "--kubeconfig", kubeconfig,
                             "--bind-address", "127.0.0.1", "--port", str(port),
                             "--upstream", "none", "--metrics-bind-address", "0",
                             "--health-port", "0", "--ready-port", "0", "-v", "2"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return proc


def zone_file(address, queries, path):
    """The target's answers to `queries`, as a zone file (answer and additional records)."""
    lines = []
    for name, qtype in queries:
        reply = ask(address, name, qtype, tcp=True)
        if not reply.rr:
            raise RuntimeError(f"{address[0]}:{address[1]} has no answer for {name} {qtype}")
        lines += [rr.toZone() for rr in reply.rr + reply.ar]
    path.write_text("\n".join(dict.fromkeys(lines)) + "\n")
    return path


def start_static(zone, port):
    return subprocess.Popen([sys.executable, "-m", "dnslib.zoneresolver", "--zone", str(zone),
                             "--address", "127.0.0.1", "--port", str(port), "--tcp",
                             "--log=-request,-reply,-truncated,-error"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)


# -- the load ------------------------------------------------------------------------------------

def load(address, queries, seconds, concurrency, max_queries):
    """(answered, failed, latencies): `concurrency` threads, one query in flight each."""
    packets = [(DNSRecord.question(n, t).pack(), n) for n, t in queries]
    latencies, failed, budget = [], [0], [max_queries]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(offset):
        mine = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1.0)
            i = offset
            while time.perf_counter() < deadline:
                with lock:
                    if budget[0] <= 0:
                        break
                    budget[0] -= 1
                packet = packets[i % len(packets)][0]
                i += 1
                start = time.perf_counter()
                try:
                    s.sendto(packet, address)
                    data, _ = s.recvfrom(4096)
                    if data[:2] != packet[:2]:
                        raise OSError("reply to another query")
                    mine.append(time.perf_counter() - start)
                except OSError:
                    with lock:
                        failed[0] += 1
        with lock:
            latencies.extend(mine)
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, failed[0], sorted(latencies)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p))]


def measure(address, queries, args):
    """(queries/s, p50 ms, p99 ms, answered, failed) for one round of load."""
    qps, failed, lat = load(address, queries, args.seconds, args.concurrency, args.max_queries)
    return qps, percentile(lat, 0.50) * 1000, percentile(lat, 0.99) * 1000, len(lat), failed


def median(values):
    return sorted(values)[len(values) // 2]


def run(args, target, queries, workdir):
    zone = zone_file(target, queries, workdir / "static.zone")
    static_address = ("127.0.0.1", free_port())
    static = start_static(zone, static_address[1])
    servers = {"kfs dns": target, "static dnslib zoneresolver": static_address}
    try:
        wait_for(lambda: _answers(static_address, queries[0]), 15, what="the static server")
        rounds = take_turns(servers, lambda address: measure(address, queries, args), args.rounds)
    finally:
        static.terminate()
        static.wait(15)
    report(rounds, servers, queries, args, "UDP on loopback")


def take_turns(servers, one_round, count):
    """{label: [round, ...]}: a warm-up each, then `count` rounds, the servers taking turns
    so that a busy moment of the machine hits both alike."""
    rounds = {label: [] for label in servers}
    for address in servers.values():
        one_round(address)  # warm-up
    for _ in range(count):
        for label, address in servers.items():
            rounds[label].append(one_round(address))
    return rounds


def report(rounds, servers, queries, args, where_from):
    print(f"{len(queries)} queries in the mix, {args.concurrency} clients, {args.seconds:g} s "
          f"of load per round, {args.rounds} rounds taking turns (medians), {where_from}")
    result = []
    for label, rs in rounds.items():
        qps, p50, p99 = (median([r[i] for r in rs]) for i in range(3))
        where = f"{label} ({servers[label][0]}:{servers[label][1]})"
        print(f"{where:44} {qps:7.0f} queries/s   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
              f"({sum(r[3] for r in rs)} answered, {sum(r[4] for r in rs)} failed)")
        result.append((qps, p99))
    (dns_qps, dns_p99), (static_qps, static_p99) = result
    print(f"ratio kfs dns / static: {dns_qps / static_qps:.2f} x the queries/s, "
          f"{dns_p99 / static_p99:.2f} x the p99 latency")


def _answers(address, query):
    try:
        return bool(ask(address, *query, timeout=0.5).rr)
    except OSError:
        return False


# -- from a pod in the lab ------------------------------------------------------------------------

STATIC_SERVICE = "bench-static-dns"
CLIENT_POD = "bench-dns-client"


def lab_run(args, workdir):
    from kfs.lab import Lab
    from kfs.lab.stages import dns as dns_stage
    lab = Lab()
    api = Client.from_kubeconfig(lab.admin_kubeconfig)
    cp, node1 = lab.machine("cp"), lab.machine("node1")
    queries = lab_queries(api, args.services)
    direct = (cp.ip, dns_stage.DNS_PORT)   # the zone: kfs dns's own answers, asked directly
    wait_for(lambda: all(_answers(direct, q) for q in queries), 30, what="kfs dns to know them")
    zone = zone_file(direct, queries, workdir / "static.zone")
    port = free_port()
    static = subprocess.Popen(["nsenter", f"--net=/run/netns/{cp.netns}", "--", sys.executable,
                               "-m", "dnslib.zoneresolver", "--zone", str(zone), "--address", cp.ip,
                               "--port", str(port), "--log=-request,-reply,-truncated,-error"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    try:
        static_ip = static_service(api, cp.ip, port)
        pid = client_pod(api, node1)
        servers = {"kfs dns": (dns_stage.CLUSTER_IP, 53), "static dnslib zoneresolver": (static_ip, 53)}
        for address in servers.values():
            wait_for(lambda: in_pod(pid, address, queries, args, 0.1, 20)[3] > 0, 30,
                     what=f"an answer from {address[0]} in the pod")
        rounds = take_turns(servers, lambda a: in_pod(pid, a, queries, args, args.seconds,
                                                      args.max_queries), args.rounds)
    finally:
        static.terminate()
        static.wait(15)
        for kind, name, ns in (("pods", CLIENT_POD, "default"), ("services", STATIC_SERVICE, "default"),
                               ("endpointslices", STATIC_SERVICE, "default"), ("namespaces", NS, None)):
            try:
                api.delete(kind, name, ns, **({"grace_period_seconds": 0} if kind == "pods" else {}))
            except Exception as e:  # noqa: BLE001 - best effort, say what stays
                print(f"(could not delete {kind} {name}: {e})")
    report(rounds, servers, queries, args,
           f"UDP from a pod on node1 through kube-proxy to cp ({cp.ip})")


def lab_queries(api, count):
    try:
        api.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}})
    except Exception:  # noqa: BLE001 - a previous run's namespace
        pass
    for i in range(count):
        try:
            api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"svc{i}"},
                        "spec": {"ports": [{"name": "http", "port": 80}]}}, namespace=NS)
        except Exception:  # noqa: BLE001 - already there
            pass
    return [(n, "A") for n in ["kubernetes.default.svc.cluster.local",
                               "kube-dns.kube-system.svc.cluster.local",
                               *(f"svc{i}.{NS}.svc.cluster.local" for i in range(count))]]


def static_service(api, ip, port):
    """The static server's Service (no selector) and EndpointSlice; its ClusterIP."""
    api.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": STATIC_SERVICE},
                "spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP",
                                    "targetPort": port}]}}, namespace="default")
    api.create({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                "metadata": {"name": STATIC_SERVICE,
                             "labels": {"kubernetes.io/service-name": STATIC_SERVICE,
                                        "endpointslice.kubernetes.io/managed-by": "bench"}},
                "addressType": "IPv4",
                "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
                "ports": [{"name": "dns", "port": port, "protocol": "UDP"}]}, namespace="default")
    return api.get("services", STATIC_SERVICE, "default")["spec"]["clusterIP"]


def client_pod(api, node):
    """A busybox pod on `node`; the PID of its sandbox (the pod's network namespace)."""
    api.create({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": CLIENT_POD},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": node.name},
                         "terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "sh", "image": "kfs/busybox:1", "command":
                                         ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]}]}},
               namespace="default")
    wait_for(lambda: api.get("pods", CLIENT_POD, "default")["status"].get("phase") == "Running",
             60, what="the client pod to run")
    [pause] = node.docker().containers.list(filters={"label": [
        f"io.kubernetes.pod.name={CLIENT_POD}", "io.kubernetes.container.name=POD"]})
    return pause.attrs["State"]["Pid"]


def in_pod(pid, address, queries, args, seconds, max_queries):
    """One round of load run in the pod's network namespace: measure()'s tuple."""
    out = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", sys.executable, __file__,
                          "--measure-only", f"{address[0]}:{address[1]}",
                          "--seconds", str(seconds), "--concurrency", str(args.concurrency),
                          "--max-queries", str(max_queries),
                          *(a for n, _ in queries for a in ("--name", n))],
                         capture_output=True, text=True, timeout=seconds + 60, check=True)
    return tuple(json.loads(out.stdout))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=host_port, metavar="HOST:PORT",
                        help="a kfs dns already running (default: start one on loopback)")
    parser.add_argument("--name", action="append", default=[],
                        help="with --target: a name to ask for (A), repeatable")
    parser.add_argument("--services", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-queries", type=int, default=200_000, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lab", action="store_true",
                        help="from a pod of the lab KFS_LAB names (at stage dns or later)")
    parser.add_argument("--measure-only", type=host_port, metavar="HOST:PORT",
                        help=argparse.SUPPRESS)  # --lab's load generator, in the pod
    args = parser.parse_args()
    if args.measure_only:
        print(json.dumps(measure(args.measure_only, [(n, "A") for n in args.name], args)))
        return
    workdir = Path(tempfile.mkdtemp(prefix="kfs-bench-dns-"))
    try:
        if args.lab:
            lab_run(args, workdir)
            return
        if args.target:
            queries = [(n, "A") for n in args.name or ["kubernetes.default.svc.cluster.local"]]
            run(args, args.target, queries, workdir)
            return
        with LocalControlPlane(workdir / "cp") as cp:
            queries = make_services(Client.from_kubeconfig(cp.kubeconfig()), args.services)
            target = ("127.0.0.1", free_port())
            proc = start_kfs_dns(cp, workdir, target[1])
            try:
                wait_for(lambda: all(_answers(target, q) for q in queries) or proc.poll(), 30,
                         what="kfs dns to answer every name")
                if proc.poll() is not None:
                    raise RuntimeError(f"kfs dns exited; see {workdir / 'dns.log'}")
                run(args, target, queries, workdir)
            finally:
                proc.terminate()
                proc.wait(15)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
