"""Pod network throughput over kfs flanneld, as ratios to the kernel's own in the same run.

Two throwaway "nodes" (network namespaces ``kfs-flanneltest-a`` and ``-b``, joined by a
bridge; removed at the end) and a TLS etcd on the host end of their network, as in
``tests/integration/test_flannel_netns.py`` (whose helpers this imports). ``kfs flanneld``
runs on both; each node's ``kfsft-pod`` bridge (docker0's stand-in) gets its subnet's
first address. TCP throughput with iperf3 (``--seconds`` per run, medians of ``--runs``,
the paths measured one after the other in each run so neighbours in time are compared):

- **vxlan ÷ hand-made vxlan**: flannel's ``flannel.1`` between the two "docker0"
  addresses ÷ a vxlan device made by hand with ``ip link add ... type vxlan`` between the
  same namespaces (same MTU, a static remote, no flannel): what flannel's way of
  programming the kernel costs (target ≥ 0.95: nothing, the datapath is the kernel's);
- **vxlan ÷ underlay**: the same ÷ the nodes' own addresses (the encapsulation's cost);
- **host-gw ÷ underlay**: flanneld restarted with the host-gw backend ÷ the underlay.

Needs root and iperf3 (``python3 -m kfs.bootstrap`` installs it); no lab.

    .venv/bin/python bench/pod_network.py [--runs 5] [--seconds 2]

With ``--lab`` (the lab ``KFS_LAB`` names, at stage ``proxy``, ``dns`` or ``flannel``) the
same figures are measured **between two pods** of the lab, ``bench-podnet-node1`` and
``-node2`` (busybox pods, one per node; iperf3 runs in each pod's network namespace,
``nsenter --net=/proc/<pause pid>/ns/net``, as the host's binary), after the time the talk's
fix takes:

- **re-addressing**: the lab is brought to stage ``dns`` (no flannel: every pod on
  172.17.0.0/16), two pods started, then ``kfs lab up --stage flannel`` timed until each pod
  has a new address in its node's subnet and answers from the other node's pod (a TCP
  connect from the other pod's namespace); the lab is left at stage flannel;
- **pod → pod over flannel.1 ÷ pod → pod over a hand-made vxlan** between node1 and node2
  (``vxhand``, VNI 42, UDP 4789, flannel.1's MTU, made in the machines' own namespaces, with
  a /32 route to the other pod through it that overrides flannel's /24 while it is measured;
  removed at the end): the same pods, veths and docker0 bridges, only the vxlan device and
  its routes made by flannel or by hand; **÷ the underlay** (node1's address to node2's,
  no veth, no bridge, no encapsulation).

host-gw is measured only without ``--lab`` (the lab's flannel config is vxlan).

    KFS_LAB=... .venv/bin/python bench/pod_network.py --lab [--runs 5] [--seconds 2]
"""
import argparse
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from etcd3 import etcdrpc  # noqa: E402

from kfs.flannel import main as flannel_main  # noqa: E402
from kfs.flannel.netlink import Netlink  # noqa: E402
from kfs.iptables import Iptables  # noqa: E402
from kfs.util import wait_for  # noqa: E402
from tests.integration.flannel_etcd import FlannelEtcd  # noqa: E402
from tests.integration.flannel_netns import (HOST_IP, NODES, Flanneld, Topology,  # noqa: E402
                                             netns, prefix, sh)

HAND = {"a": "10.99.0.1", "b": "10.99.0.2"}


def iperf(client, server, src, dst, seconds, port=5201):
    """Gbit/s of one TCP stream from `src` to `dst`; `client`/`server`: the argv prefixes
    that run a command where each end is (a namespace's ``ip netns exec``/``nsenter``)."""
    server = subprocess.Popen([*server, "iperf3", "-s", "-1", "-B", dst, "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            out = sh(*client, "iperf3", "-c", dst, "-B", src, "-p", str(port), "-t",
                     str(seconds), "-J", check=False)
            result = json.loads(out.stdout or "{}")
            if "sum_received" in result.get("end", {}):
                return result["end"]["sum_received"]["bits_per_second"] / 1e9
            if "unable to connect" not in result.get("error", "unable to connect"):
                raise RuntimeError(f"iperf3 {src} -> {dst}: {result.get('error')}")
            time.sleep(0.1)   # the server is not listening yet
        raise RuntimeError(f"iperf3 {src} -> {dst} failed: {out.stdout[-300:]}{out.stderr}")
    finally:
        server.kill()
        server.wait()


def hand_made_vxlan():
    """A vxlan between the two namespaces by hand: VNI 42, port 4789, MTU 1450."""
    for node, peer in (("a", "b"), ("b", "a")):
        sh("ip", "-n", netns(node), "link", "add", "vxhand", "type", "vxlan", "id", "42",
           "dstport", "4789", "local", NODES[node], "remote", NODES[peer], "dev", "eth0")
        sh("ip", "-n", netns(node), "link", "set", "vxhand", "mtu", "1450", "up")
        sh("ip", "-n", netns(node), "addr", "add", f"{HAND[node]}/24", "dev", "vxhand")


def start_flannel(etcd, work, backend):
    pfx = f"/bench-{backend}/network"
    reg = etcd.registry(pfx)
    value = f'{{"Network": "10.244.0.0/16", "Backend": {{"Type": "{backend}"}}}}'
    reg.kv.Put(etcdrpc.PutRequest(key=f"{pfx}/config".encode(), value=value.encode()))
    reg.close()
    daemons = [Flanneld(n, work, etcd.flags(pfx), "--ip-masq").start(wait=False) for n in NODES]
    for d in daemons:
        d.wait_started()
    return daemons


def stop_flannel(daemons):
    for d in daemons:
        d.stop()
        nl = Netlink(netns=netns(d.node))
        flannel_main.cleanup(SimpleNamespace(subnet_file=d.subnet_file), nl,
                             Iptables(prefix(d.node)))
        nl.close()


def pod_addresses(topo, daemons):
    return [topo.pod_address(d.node, d.subnet()) for d in daemons]


def measure(paths, runs, seconds):
    """{name: [Gbit/s per run]}, the paths interleaved within each run; `paths`: {name:
    (client prefix, server prefix, src, dst)}."""
    out = {name: [] for name in paths}
    for i in range(runs):
        for name, path in paths.items():
            out[name].append(iperf(*path, seconds))
        print(f"  run {i + 1}: " + ", ".join(f"{n} {v[-1]:.2f}" for n, v in out.items()),
              flush=True)
    return out


def ratio(results, a, b, target=""):
    """The median of the per-run ratios a/b (each run's paths are neighbours in time)."""
    per_run = [x / y for x, y in zip(results[a], results[b])]
    print(f"{a} / {b}: {statistics.median(per_run):.2f}{target}  "
          f"(per run: {', '.join(f'{r:.2f}' for r in per_run)}; medians "
          f"{statistics.median(results[a]):.2f} / {statistics.median(results[b]):.2f} Gbit/s)")


# -- --lab: between two pods of the lab -----------------------------------------------------

POD = "bench-podnet-{}"
LAB_NODES = ("node1", "node2")


def bench_pod(node):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": POD.format(node)},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "sh", "image": "kfs/busybox:1", "command":
                                     ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]}]}}


def pod_ip(api, node):
    """The pod's address once it runs, else None."""
    status = api.get("pods", POD.format(node), "default")["status"]
    return status.get("podIP") if status.get("phase") == "Running" else None


def pause_pid(machine):
    """The PID of the pod's sandbox (its network namespace) on `machine`, or None."""
    found = machine.docker().containers.list(filters={"label": [
        f"io.kubernetes.pod.name={POD.format(machine.name)}", "io.kubernetes.container.name=POD"]})
    return found[0].attrs["State"]["Pid"] if found else None


def in_pod(machine):
    return ["nsenter", f"--net=/proc/{pause_pid(machine)}/ns/net", "--"]


def reaches(src_machine, ip, port=5202):
    """Does a TCP connect from the pod on `src_machine` to `ip` get an answer (a listener or
    a refusal: the packet got there and back)?"""
    probe = ("import socket,sys\ns=socket.socket();s.settimeout(1)\n"
             "try: s.connect((sys.argv[1], int(sys.argv[2])))\n"
             "except ConnectionRefusedError: pass\n"
             "except OSError: sys.exit(1)\n")
    return sh(*in_pod(src_machine), sys.executable, "-c", probe, ip, str(port),
              check=False).returncode == 0


def readdress_time(lab, api):
    """Seconds from ``lab up --stage flannel`` to both pods re-addressed in their node's
    subnet and reaching each other."""
    from kfs.lab.stages import flannel
    quiet = dict(progress=lambda msg: None)
    print(f"lab {lab.name}: to stage dns (no flannel), then two pods, then timing "
          "`lab up --stage flannel`", flush=True)
    lab.up(stage="dns", **quiet)
    for node in LAB_NODES:
        try:
            api.create(bench_pod(node), namespace="default")
        except Exception:  # noqa: BLE001 - a previous run's pod: it is re-addressed all the same
            pass
    wait_for(lambda: all(pod_ip(api, n) for n in LAB_NODES), 120, what="the bench pods to run")
    print("  before: " + ", ".join(f"{n} {pod_ip(api, n)}" for n in LAB_NODES), flush=True)
    start = time.monotonic()
    lab.up(stage="flannel", **quiet)
    up = time.monotonic() - start

    def readdressed():
        ips = {n: pod_ip(api, n) for n in LAB_NODES}
        nets = {n: ipaddress.ip_network(flannel.subnet(lab.machine(n)), strict=False)
                for n in LAB_NODES}
        return all(ips[n] and ipaddress.ip_address(ips[n]) in nets[n] for n in LAB_NODES) and ips
    ips = wait_for(readdressed, 180, interval=0.2, what="both pods in their node's subnet")
    wait_for(lambda: reaches(lab.machine("node1"), ips["node2"])
             and reaches(lab.machine("node2"), ips["node1"]), 60, interval=0.2,
             what="the pods to reach each other")
    total = time.monotonic() - start
    print(f"  after:  " + ", ".join(f"{n} {ip}" for n, ip in ips.items()))
    print(f"lab up --stage flannel: {up:.1f}s; every pod re-addressed and reachable: "
          f"{total:.1f}s", flush=True)
    return ips


def lab_hand_made_vxlan(machines, mtu):
    for m, peer in ((machines[0], machines[1]), (machines[1], machines[0])):
        m.run(["ip", "link", "del", "vxhand"], capture_output=True)  # a previous run's
        for argv in (["ip", "link", "add", "vxhand", "type", "vxlan", "id", "42", "dstport",
                      "4789", "local", m.ip, "remote", peer.ip, "dev", "eth0"],
                     ["ip", "link", "set", "vxhand", "mtu", str(mtu), "up"],
                     ["ip", "addr", "add", f"{HAND['ab'[machines.index(m)]]}/24", "dev", "vxhand"]):
            m.run(argv, check=True, capture_output=True)


def hand_routes(machines, ips, verb):
    """Add (or delete) each node's /32 route to the other node's pod through vxhand."""
    for m, peer in ((machines[0], machines[1]), (machines[1], machines[0])):
        m.run(["ip", "route", verb, f"{ips[peer.name]}/32", "via",
               HAND["ab"[machines.index(peer)]], "dev", "vxhand"], check=True)


def tx_bytes(machine, device):
    link = json.loads(machine.run(["ip", "-j", "-s", "link", "show", device], check=True,
                                  capture_output=True, text=True).stdout)[0]
    return link["stats64"]["tx"]["bytes"]


def lab_measure(machines, ips, runs, seconds):
    """{path: [Gbit/s per run]}: pod to pod over flannel.1, over vxhand, and the underlay."""
    n1, n2 = machines
    node = [m.command([]) for m in machines]   # a command run on each machine
    pods = (in_pod(n1), in_pod(n2), ips["node1"], ips["node2"])
    out = {"flannel vxlan": [], "hand-made vxlan": [], "underlay": []}
    for i in range(runs):
        out["flannel vxlan"].append(iperf(*pods, seconds))
        hand_routes(machines, ips, "add")
        try:
            sent = tx_bytes(n1, "vxhand")
            out["hand-made vxlan"].append(iperf(*pods, seconds))
            if tx_bytes(n1, "vxhand") - sent < 1e6:
                raise RuntimeError("the hand-made path's stream did not cross vxhand")
        finally:
            hand_routes(machines, ips, "del")
        out["underlay"].append(iperf(*node, n1.ip, n2.ip, seconds))
        print(f"  run {i + 1}: " + ", ".join(f"{n} {v[-1]:.2f}" for n, v in out.items()),
              flush=True)
    return out


def lab_run(args):
    from kfs.client import Client
    from kfs.lab import Lab
    from kfs.lab.stages import flannel
    lab = Lab()
    if lab.stage not in ("proxy", "dns", "flannel"):
        sys.exit(f"bench/pod_network.py --lab: lab {lab.name} is at stage {lab.stage}; bring it "
                 "to proxy, dns or flannel first (kfs lab up --stage dns)")
    api = Client.from_kubeconfig(lab.admin_kubeconfig)
    n1, _ = machines = [lab.machine(n) for n in LAB_NODES]
    try:
        ips = readdress_time(lab, api)
        mtu = json.loads(n1.run(["ip", "-j", "link", "show", flannel.DEVICE], check=True,
                                capture_output=True, text=True).stdout)[0]["mtu"]
        lab_hand_made_vxlan(machines, mtu)
        print(f"node1 -> node2: {args.runs} runs of {args.seconds}s (Gbit/s)")
        vx = lab_measure(machines, ips, args.runs, args.seconds)
        print()
        ratio(vx, "flannel vxlan", "hand-made vxlan", "  (target >= 0.95)")
        ratio(vx, "flannel vxlan", "underlay")
    finally:
        for m in machines:
            m.run(["ip", "link", "del", "vxhand"], capture_output=True)
            try:
                api.delete("pods", POD.format(m.name), "default", grace_period_seconds=0)
            except Exception as e:  # noqa: BLE001 - best effort, say what stays
                print(f"(could not delete pod {POD.format(m.name)}: {e})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--lab", action="store_true",
                        help="between two pods of the lab KFS_LAB names (see the docstring)")
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("iperf3") or not shutil.which("etcd"):
        sys.exit("bench/pod_network.py needs root, iperf3 and etcd (python3 -m kfs.bootstrap)")
    if args.lab:
        return lab_run(args)
    work = Path(tempfile.mkdtemp(prefix="kfs-podnet-"))
    topo = Topology().create()
    etcd = None
    try:
        etcd = FlannelEtcd(work / "etcd", HOST_IP).start()
        hand_made_vxlan()
        underlay = (NODES["a"], NODES["b"])
        daemons = start_flannel(etcd, work, "vxlan")
        print(f"vxlan: {args.runs} runs of {args.seconds}s (Gbit/s)")
        ab = (prefix("a"), prefix("b"))
        vx = measure({"flannel vxlan": (*ab, *pod_addresses(topo, daemons)),
                      "hand-made vxlan": (*ab, HAND["a"], HAND["b"]), "underlay": (*ab, *underlay)},
                     args.runs, args.seconds)
        stop_flannel(daemons)
        daemons = start_flannel(etcd, work, "host-gw")
        print(f"host-gw: {args.runs} runs of {args.seconds}s (Gbit/s)")
        hg = measure({"flannel host-gw": (*ab, *pod_addresses(topo, daemons)),
                      "underlay": (*ab, *underlay)}, args.runs, args.seconds)
        stop_flannel(daemons)
        print()
        ratio(vx, "flannel vxlan", "hand-made vxlan", "  (target >= 0.95)")
        ratio(vx, "flannel vxlan", "underlay")
        ratio(hg, "flannel host-gw", "underlay")
    finally:
        if etcd:
            etcd.stop(remove=True)
        topo.remove()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
