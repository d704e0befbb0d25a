"""Cluster DNS: queries per second and p99 latency of kfs dns, against a static dnslib server.

    .venv/bin/python bench/dns.py [--services 20] [--seconds 1] [--concurrency 4] [--rounds 3]
    .venv/bin/python bench/dns.py --target HOST:PORT --name web.default.svc.cluster.local ...

By default it starts etcd and ``kfs apiserver`` on loopback (``kfs.apiserver.local``),
creates ``--services`` Services (and one headless Service with three ready endpoints), and
starts ``kfs dns`` as its own process on a free port of 127.0.0.1, fed by that control
plane through its watch, with no upstream. With ``--target`` it measures a kfs dns that
already runs there instead (the lab's ``10.96.0.10`` seen from a pod is the stage's
variant of this benchmark, which comes with the stage), asking for the ``--name``s given.

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
    rounds = {label: [] for label in servers}
    try:
        wait_for(lambda: _answers(static_address, queries[0]), 15, what="the static server")
        for address in servers.values():
            load(address, queries, 0.2, args.concurrency, 500)  # warm-up
        for _ in range(args.rounds):  # taking turns, so a busy moment hits both alike
            for label, address in servers.items():
                rounds[label].append(measure(address, queries, args))
    finally:
        static.terminate()
        static.wait(15)
    print(f"{len(queries)} queries in the mix, {args.concurrency} clients, {args.seconds:g} s "
          f"of load per round, {args.rounds} rounds taking turns (medians), UDP on loopback")
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
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="kfs-bench-dns-"))
    try:
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
