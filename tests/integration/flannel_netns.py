"""Two throwaway "nodes" for flannel's root tests and the pod-network benchmark.

``Topology`` creates three network namespaces: ``kfs-flanneltest-a`` and ``-b`` (the
nodes, each with an ``eth0`` on 192.168.213.0/24 and a bridge ``kfsft-pod`` standing for
docker0), and ``kfs-flanneltest-sw``, whose bridge joins them and a veth to the host
(192.168.213.254), where the tests' etcd listens. ``remove()`` deletes all three (and so
every veth): nothing else on the machine is touched. ``Flanneld`` runs the real
``kfs flanneld`` in a node's namespace (``nsenter --net=``), logging to a file.
"""
import ipaddress
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from kfs.util import wait_for

NODES = {"a": "192.168.213.1", "b": "192.168.213.2"}
HOST_IP = "192.168.213.254"
SWITCH = "kfs-flanneltest-sw"
POD_BRIDGE = "kfsft-pod"
ROOT = Path(__file__).resolve().parents[2]


def sh(*argv, check=True, input=None):
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, input=input)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))}: {result.stderr.strip()}")
    return result


def netns(node):
    return f"kfs-flanneltest-{node}"


def prefix(node):
    return ["nsenter", f"--net=/run/netns/{netns(node)}", "--"]


def ip_json(node, *args):
    out = sh("ip", "-n", netns(node), "-j", *args).stdout
    return json.loads(out or "[]")


class Topology:
    def __init__(self):
        self.names = [netns(n) for n in NODES] + [SWITCH]

    def create(self):
        self.remove()
        for name in self.names:
            sh("ip", "netns", "add", name)
        sw = ["ip", "-n", SWITCH]
        sh(*sw, "link", "add", "br0", "type", "bridge")
        sh(*sw, "link", "set", "br0", "up")
        for node, address in NODES.items():
            ns = netns(node)
            sh(*sw, "link", "add", f"port-{node}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            sh(*sw, "link", "set", f"port-{node}", "master", "br0", "up")
            for cmd in (["link", "set", "lo", "up"], ["link", "set", "eth0", "up"],
                        ["addr", "add", f"{address}/24", "dev", "eth0"],
                        ["route", "add", "default", "via", HOST_IP],
                        ["link", "add", POD_BRIDGE, "type", "bridge"],
                        ["link", "set", POD_BRIDGE, "up"]):
                sh("ip", "-n", ns, *cmd)
        sh("ip", "link", "add", "kfsft-host", "type", "veth", "peer", "name", "port-host", "netns",
           SWITCH)
        sh(*sw, "link", "set", "port-host", "master", "br0", "up")
        sh("ip", "addr", "add", f"{HOST_IP}/24", "dev", "kfsft-host")
        sh("ip", "link", "set", "kfsft-host", "up")
        return self

    def remove(self):
        for name in self.names:
            sh("ip", "netns", "del", name, check=False)
        sh("ip", "link", "del", "kfsft-host", check=False)   # gone with the switch, normally

    def pod_address(self, node, subnet, host=1):
        """Give the node's docker0 stand-in the subnet's `host`-th address (e.g. .1)."""
        subnet = ipaddress.IPv4Network(subnet)
        address = f"{subnet[host]}/{subnet.prefixlen}"
        sh("ip", "-n", netns(node), "addr", "replace", address, "dev", POD_BRIDGE)
        return str(subnet[host])


class Flanneld:
    """``kfs flanneld`` in a node's namespace; `log` is its output."""

    def __init__(self, node, directory, etcd_flags, *extra):
        self.node, self.dir = node, Path(directory)
        self.subnet_file = self.dir / f"subnet-{node}.env"
        self.log = self.dir / f"flanneld-{node}.log"
        self.argv = [*prefix(node), sys.executable, "-m", "kfs.cli", "flanneld",
                     "--iface", NODES[node], "--subnet-file", self.subnet_file, *etcd_flags,
                     *extra]
        self.proc = None

    def start(self, wait=True):
        self.started_before = self.text().count("flanneld started:")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([str(a) for a in self.argv], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        if wait:
            self.wait_started()
        return self

    def text(self):
        return self.log.read_text() if self.log.exists() else ""

    def wait_started(self, timeout=60):
        wait_for(lambda: self.text().count("flanneld started:") > self.started_before
                 or self.proc.poll() is not None, timeout, what=f"flanneld on {self.node}")
        if self.proc.poll() is not None:
            raise AssertionError(f"flanneld on {self.node} exited {self.proc.returncode}:\n"
                                 f"{self.text()[-3000:]}")

    def subnet(self):
        from kfs.flannel.subnet import read_cidr
        return read_cidr(self.subnet_file, "FLANNEL_SUBNET")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc and self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def cleanup(node, subnet_file):
    """``kfs flanneld --cleanup`` in the node's namespace."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([*prefix(node), sys.executable, "-m", "kfs.cli", "flanneld",
                           "--cleanup", "--subnet-file", str(subnet_file)], env=env,
                          capture_output=True, text=True)
