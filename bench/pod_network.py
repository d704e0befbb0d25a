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

TODO(lab): the issue's pod-to-pod figures need the lab at stage ``flannel`` (Docker on
each node restarted with ``--bip=$FLANNEL_SUBNET``): the same three ratios measured
between two pods on node1 and node2 (iperf3 run in each pod's network namespace:
``nsenter --net=/proc/<pause pid>/ns/net``, the hand-made vxlan between the machines'
own netns), and the time from ``kfs lab up --stage flannel`` to every pod re-addressed in
its node's subnet and reachable from the other node. They belong with the flannel stage.
"""
import argparse
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
from tests.integration.flannel_etcd import FlannelEtcd  # noqa: E402
from tests.integration.flannel_netns import (HOST_IP, NODES, Flanneld, Topology,  # noqa: E402
                                             netns, prefix, sh)

HAND = {"a": "10.99.0.1", "b": "10.99.0.2"}


def iperf(src_node, src, dst, seconds, port=5201):
    """Gbit/s of one TCP stream from `src` (in `src_node`) to `dst` (served in the other)."""
    dst_node = "b" if src_node == "a" else "a"
    server = subprocess.Popen([*prefix(dst_node), "iperf3", "-s", "-1", "-B", dst, "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            out = sh(*prefix(src_node), "iperf3", "-c", dst, "-B", src, "-p", str(port), "-t",
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
    """{name: [Gbit/s per run]}, the paths interleaved within each run."""
    out = {name: [] for name in paths}
    for i in range(runs):
        for name, (src, dst) in paths.items():
            out[name].append(iperf("a", src, dst, seconds))
        print(f"  run {i + 1}: " + ", ".join(f"{n} {v[-1]:.2f}" for n, v in out.items()),
              flush=True)
    return out


def ratio(results, a, b, target=""):
    """The median of the per-run ratios a/b (each run's paths are neighbours in time)."""
    per_run = [x / y for x, y in zip(results[a], results[b])]
    print(f"{a} / {b}: {statistics.median(per_run):.2f}{target}  "
          f"(per run: {', '.join(f'{r:.2f}' for r in per_run)}; medians "
          f"{statistics.median(results[a]):.2f} / {statistics.median(results[b]):.2f} Gbit/s)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=2)
    args = parser.parse_args()
    if os.geteuid() != 0 or not shutil.which("iperf3") or not shutil.which("etcd"):
        sys.exit("bench/pod_network.py needs root, iperf3 and etcd (python3 -m kfs.bootstrap)")
    work = Path(tempfile.mkdtemp(prefix="kfs-podnet-"))
    topo = Topology().create()
    etcd = None
    try:
        etcd = FlannelEtcd(work / "etcd", HOST_IP).start()
        hand_made_vxlan()
        underlay = (NODES["a"], NODES["b"])
        daemons = start_flannel(etcd, work, "vxlan")
        print(f"vxlan: {args.runs} runs of {args.seconds}s (Gbit/s)")
        vx = measure({"flannel vxlan": tuple(pod_addresses(topo, daemons)),
                      "hand-made vxlan": (HAND["a"], HAND["b"]), "underlay": underlay},
                     args.runs, args.seconds)
        stop_flannel(daemons)
        daemons = start_flannel(etcd, work, "host-gw")
        print(f"host-gw: {args.runs} runs of {args.seconds}s (Gbit/s)")
        hg = measure({"flannel host-gw": tuple(pod_addresses(topo, daemons)),
                      "underlay": underlay}, args.runs, args.seconds)
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
