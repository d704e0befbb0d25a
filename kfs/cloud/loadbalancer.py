"""kfs load-balancer: the lab's load balancer machine, forwarding a Service's ports to NodePorts.

The netns lab's answer to "the cloud gives me a load balancer": a machine of its own on the
lab network (network namespace ``<lab>-lb``, address .199), as cloud-provider-kind runs an
Envoy container per Service on kind's Docker network. Two halves, one file format:

- **the cloud-controller-manager's side**, ``FileForwarder`` (a ``kfs.cloud.netns.Forwarder``):
  ``ensure`` writes ``<balancers dir>/<name>.json`` (``{"name", "service", "address",
  "ports": [{"protocol", "port", "nodePort"}], "backends": [node IP, ...],
  "healthCheckPort"}``), atomically; ``delete`` removes it. That directory is the lab
  cloud's API: what a real provider sends to its cloud's load balancer service;
- **the load balancer's side**, ``kfs load-balancer --balancers-dir DIR --device eth0``,
  one process in the load balancer machine (its command line on view in ``ps`` and its log
  ``<lab>/lb/load-balancer.log``). Every ``--sync-period`` it reads the directory and
  converges: each balancer's address on its device (``ip addr add <address>/32``; a /32 is
  a balancer's, the machine's own address is the /24), a listener on each ``address:port``
  (TCP), and a health check of every backend: ``GET /healthz`` on its
  ``healthCheckPort`` (kube-proxy's 10256, or the Service's ``healthCheckNodePort`` for
  ``externalTrafficPolicy: Local``, which answers 200 only on nodes with a local endpoint).
  A connection goes to the next healthy backend in turn (round robin) at the port's
  ``nodePort``; if every backend fails its check, to any (fail open, as cloud network load
  balancers do). ``status.json`` in the directory says which backends pass.

Why a small asyncio TCP proxy and not iptables DNAT in the load balancer's namespace: the
health checks need a process anyway, a proxy's source address is the load balancer's so
replies come back through it without a SNAT rule, a dead backend is skipped per connection
rather than after the next rule rewrite, and the whole forwarder is one visible process with
a log, stopped by one PID (as Envoy is for cloud-provider-kind). The price: TCP only, and
the pod sees the load balancer's address as its client (``ipMode: Proxy`` would be honest;
kfs says ``VIP``, since kube-proxy's rules are what pods inside the cluster use).

What real Kubernetes does differently: a cloud's load balancer is a managed service (AWS
NLB/ELB, GCE forwarding rules, Azure LB) reached through the cloud's API, highly available
across zones; many send traffic straight to the node with the Service's address kept
(Direct Server Return, ``ipMode: VIP``), others proxy it (``ipMode: Proxy``); UDP too.
"""
import asyncio
import json
import logging
import os
import signal
import subprocess
from pathlib import Path

from kfs.util import duration, setup_logging

log = logging.getLogger("kfs.load-balancer")

STARTED = "load balancer started:"
STATUS_FILE = "status.json"


# -- the cloud-controller-manager's side --------------------------------------------------------

class FileForwarder:
    """A ``kfs.cloud.netns.Forwarder`` that hands each load balancer to ``kfs load-balancer``
    as a JSON file in `directory`."""

    def __init__(self, directory):
        self.directory = Path(directory)

    def path(self, name):
        return self.directory / f"{name}.json"

    def ensure(self, name, address, ports, backends, health_check_port, service=""):
        self.directory.mkdir(parents=True, exist_ok=True)
        body = {"name": name, "service": service, "address": address, "ports": ports,
                "backends": backends, "healthCheckPort": health_check_port}
        tmp = self.directory / f".{name}.tmp"
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True))
        tmp.replace(self.path(name))

    def delete(self, name):
        self.path(name).unlink(missing_ok=True)

    def load(self):
        """The balancers written so far (a restarted cloud-controller-manager starts here)."""
        return read_balancers(self.directory)


def read_balancers(directory):
    """{name: balancer dict} from the directory; unreadable files are skipped."""
    found = {}
    for p in sorted(Path(directory).glob("*.json")):
        if p.name == STATUS_FILE:
            continue
        try:
            b = json.loads(p.read_text())
            found[b["name"]] = b
        except (OSError, ValueError, KeyError):
            log.warning("skipping %s: not a load balancer's JSON", p)
    return found


# -- the load balancer's side ---------------------------------------------------------------------

def listeners(balancers):
    """{(address, port): (balancer name, nodePort)} for every TCP port of every balancer."""
    wanted = {}
    for b in balancers.values():
        for p in b.get("ports") or []:
            if p.get("protocol", "TCP") == "TCP" and p.get("nodePort"):
                wanted[(b["address"], int(p["port"]))] = (b["name"], int(p["nodePort"]))
    return wanted


def checks(balancers):
    """The (backend, health check port) pairs to probe."""
    return {(ip, int(b.get("healthCheckPort") or 10256))
            for b in balancers.values() for ip in b.get("backends") or []}


def pick(backends, healthy, turn):
    """The backends to try, in order, for the `turn`-th connection: the healthy ones rotated
    by `turn` (round robin); all of them if none is healthy (fail open)."""
    usable = [b for b in backends if healthy.get(b)] or list(backends)
    if not usable:
        return []
    k = turn % len(usable)
    return usable[k:] + usable[:k]


async def http_healthy(ip, port, timeout):
    """Does ``GET http://ip:port/healthz`` answer 200?"""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, port), timeout)
    except (OSError, asyncio.TimeoutError):
        return False
    try:
        writer.write(f"GET /healthz HTTP/1.0\r\nHost: {ip}:{port}\r\n\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), timeout)
        return line.split()[1:2] == [b"200"]
    except (OSError, asyncio.TimeoutError, IndexError):
        return False
    finally:
        writer.close()


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        try:
            writer.write_eof()
        except OSError:
            pass


class LoadBalancerServer:
    def __init__(self, directory, device="eth0", sync_period=1.0, timeout=1.0,
                 ip=subprocess.run):
        self.directory, self.device = Path(directory), device
        self.sync_period, self.timeout, self.ip = sync_period, timeout, ip
        self.balancers, self.healthy, self.servers, self.turns = {}, {}, {}, {}

    # addresses --------------------------------------------------------------------------------

    def own_addresses(self):
        out = self.ip(["ip", "-j", "addr", "show", "dev", self.device], capture_output=True,
                      text=True)
        records = json.loads(out.stdout or "[]") if out.returncode == 0 else []
        return {a["local"] for r in records for a in r.get("addr_info", [])
                if a.get("family") == "inet" and a.get("prefixlen") == 32}

    def sync_addresses(self):
        wanted = {b["address"] for b in self.balancers.values()}
        have = self.own_addresses()
        for verb, addresses, done in (("add", wanted - have, "added to " + self.device),
                                      ("del", have - wanted, "released")):
            for a in sorted(addresses):
                r = self.ip(["ip", "addr", verb, f"{a}/32", "dev", self.device],
                            capture_output=True, text=True)
                if r.returncode == 0:
                    log.info("address %s %s", a, done)
                else:
                    log.warning("ip addr %s %s/32 dev %s: %s", verb, a, self.device,
                                (r.stderr or "").strip())

    # listeners ----------------------------------------------------------------------------------

    async def sync_listeners(self):
        wanted = listeners(self.balancers)
        for key in [k for k in self.servers if k not in wanted]:
            self.servers.pop(key).close()
            log.info("stopped listening on %s:%d", *key)
        for key in wanted:
            if key in self.servers:
                continue
            try:
                self.servers[key] = await asyncio.start_server(
                    lambda r, w, key=key: self.forward(key, r, w), key[0], key[1])
                log.info("listening on %s:%d", *key)
            except OSError as e:
                log.warning("cannot listen on %s:%d: %s", key[0], key[1], e)

    async def forward(self, key, client_reader, client_writer):
        """One connection: to the next healthy backend's NodePort, both ways."""
        wanted = listeners(self.balancers).get(key)
        if wanted is None:
            client_writer.close()
            return
        name, node_port = wanted
        b = self.balancers[name]
        port = int(b.get("healthCheckPort") or 10256)
        health = {ip: self.healthy.get((ip, port)) for ip in b.get("backends") or []}
        self.turns[name] = self.turns.get(name, -1) + 1
        for ip in pick(b.get("backends") or [], health, self.turns[name]):
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(ip, node_port), self.timeout * 2)
            except (OSError, asyncio.TimeoutError):
                log.warning("%s: backend %s:%d refused; trying the next", name, ip, node_port)
                continue
            await asyncio.gather(pipe(client_reader, writer), pipe(reader, client_writer))
            writer.close()
            break
        client_writer.close()

    # health -------------------------------------------------------------------------------------

    async def check_backends(self):
        pairs = sorted(checks(self.balancers))
        results = await asyncio.gather(*(http_healthy(ip, port, self.timeout)
                                          for ip, port in pairs))
        now = dict(zip(pairs, results))
        for pair, ok in now.items():
            if self.healthy.get(pair) != ok:
                log.info("backend %s: health check on :%d %s", pair[0], pair[1],
                         "passes" if ok else "fails")
        self.healthy = now
        self.write_status()

    def write_status(self):
        status = {name: {"address": b["address"], "service": b.get("service", ""),
                         "backends": {ip: self.healthy.get(
                             (ip, int(b.get("healthCheckPort") or 10256)), False)
                             for ip in b.get("backends") or []}}
                  for name, b in self.balancers.items()}
        tmp = self.directory / f".{STATUS_FILE}.tmp"
        tmp.write_text(json.dumps(status, indent=1, sort_keys=True))
        tmp.replace(self.directory / STATUS_FILE)

    # the loop -----------------------------------------------------------------------------------

    async def sync(self):
        self.balancers = read_balancers(self.directory)
        self.sync_addresses()
        await self.check_backends()
        await self.sync_listeners()

    async def run(self, stop):
        self.directory.mkdir(parents=True, exist_ok=True)
        await self.sync()
        log.info("%s %d balancers from %s", STARTED, len(self.balancers), self.directory)
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.sync_period)
            except asyncio.TimeoutError:
                pass
            await self.sync()
        for server in self.servers.values():
            server.close()
        self.balancers = {}
        self.sync_addresses()   # released: a device it shares (a VM's NIC) keeps none of them


def add_arguments(parser):
    parser.add_argument("--balancers-dir", required=True, metavar="DIR",
                        help="where the cloud-controller-manager writes one JSON file per "
                        "load balancer")
    parser.add_argument("--device", default="eth0",
                        help="the interface the balancers' addresses go on (default: eth0)")
    parser.add_argument("--sync-period", type=duration, default=1.0, metavar="DURATION",
                        help="how often the directory is read and backends are checked "
                        "(default: 1s)")
    parser.add_argument("--health-check-timeout", type=duration, default=1.0,
                        metavar="DURATION",
                        help="how long a backend has to answer /healthz (default: 1s)")
    parser.add_argument("-v", "--v", type=int, default=2, dest="verbosity",
                        help="log verbosity: 0 warnings only, 2 every change (default)")


def main(args):
    setup_logging(args.verbosity)
    if not os.path.isdir(args.balancers_dir):
        os.makedirs(args.balancers_dir, exist_ok=True)
    server = LoadBalancerServer(args.balancers_dir, args.device, args.sync_period,
                                args.health_check_timeout)

    async def serve():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await server.run(stop)
    asyncio.run(serve())
    return 0
