"""Small pieces the proxier leans on: line buffers, sysctls, node addresses, "is it local?".

Mirrors ``pkg/proxy/util`` (``LineBuffer``, ``NodePortAddresses``, ``LocalTrafficDetector``,
``FullSyncPeriod``) and ``component-helpers/node/util/sysctl``, shrunk:

- ``LineBuffer`` collects iptables-restore lines (one ``write(*words)`` per rule) and
  counts them; ``DiscardLineBuffer`` only counts, for the chains a partial sync skips;
- ``Sysctl`` reads and writes ``/proc/sys`` (through a command prefix such as
  ``nsenter --net=/run/netns/X --`` when the rules belong to another network namespace);
- ``NodePortAddresses`` is ``--nodeport-addresses``: empty means every local address,
  else the node's addresses inside the CIDRs given (``primary`` = the node's own IP);
- ``LocalTrafficDetector`` says "from a pod on this cluster" as iptables words
  (``-s <cluster CIDR>``), as ``--detect-local-mode=ClusterCIDR`` does.

What real Kubernetes does differently: the detector also knows NodeCIDR, BridgeInterface
and InterfaceNamePrefix modes; node addresses come from netlink, not ``ip -j addr``.
"""
import ipaddress
import json

from kfs.util import run

FULL_SYNC_PERIOD = 3600.0   # proxyutil.FullSyncPeriod: a full resync at least hourly


class LineBuffer:
    """Lines of iptables-restore input; ``write`` joins words (lists are flattened)."""

    def __init__(self):
        self.lines = []

    def write(self, *words):
        self.lines.append(" ".join(_flatten(words)))

    def reset(self):
        self.lines.clear()

    def __len__(self):
        return len(self.lines)

    def text(self):
        return "".join(line + "\n" for line in self.lines)


class DiscardLineBuffer(LineBuffer):
    """Counts lines without keeping them (a partial sync's unchanged services)."""

    def __init__(self):
        self.count = 0

    def write(self, *words):
        self.count += 1

    def reset(self):
        self.count = 0

    def __len__(self):
        return self.count

    def text(self):
        return ""


def _flatten(words):
    for w in words:
        if isinstance(w, (list, tuple)):
            yield from _flatten(w)
        else:
            yield str(w)


class Sysctl:
    """``net/ipv4/conf/all/route_localnet`` style names, in the namespace of `prefix`."""

    def __init__(self, prefix=()):
        self.prefix = list(prefix)

    def get(self, name):
        if not self.prefix:
            try:
                with open(f"/proc/sys/{name}") as f:
                    return int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                return None
        result = run(self.prefix, ["cat", f"/proc/sys/{name}"], check=False)
        return int(result.stdout.split()[0]) if result.returncode == 0 else None

    def set(self, name, value):
        if self.get(name) == value:
            return
        if not self.prefix:
            with open(f"/proc/sys/{name}", "w") as f:
                f.write(str(value))
            return
        run(self.prefix, ["sh", "-c", f"echo {int(value)} > /proc/sys/{name}"])


class NodePortAddresses:
    """Where NodePorts answer: everywhere (no CIDRs given) or the addresses in `cidrs`."""

    def __init__(self, cidrs=(), node_ip=None):
        self.cidrs = []
        for text in cidrs:
            if text == "primary":
                if node_ip:
                    self.cidrs.append(ipaddress.ip_network(f"{node_ip}/32"))
                continue
            net = ipaddress.ip_network(text, strict=False)
            if net.version == 4:
                self.cidrs.append(net)

    def match_all(self):
        return not self.cidrs or any(n.prefixlen == 0 for n in self.cidrs)

    def contains_loopback(self):
        loopback = ipaddress.ip_address("127.0.0.1")
        return self.match_all() or any(loopback in n for n in self.cidrs)

    def get_node_ips(self, addresses):
        """The local `addresses` (strings) that fall inside the CIDRs, in CIDR order."""
        out = []
        for net in self.cidrs:
            for a in addresses:
                if ipaddress.ip_address(a) in net and a not in out:
                    out.append(a)
        return out


def local_ipv4_addresses(prefix=()):
    """Every IPv4 address on the namespace's interfaces (``ip -j -4 addr``)."""
    result = run(prefix, ["ip", "-j", "-4", "addr", "show"], check=False)
    if result.returncode != 0:
        return []
    return [a["local"] for link in json.loads(result.stdout or "[]")
            for a in link.get("addr_info", []) if a.get("family") == "inet"]


class LocalTrafficDetector:
    """``--detect-local-mode=ClusterCIDR``: traffic from `cluster_cidr` is a pod's."""

    def __init__(self, cluster_cidr=None):
        self.cidr = str(ipaddress.ip_network(cluster_cidr, strict=False)) if cluster_cidr else None

    def is_implemented(self):
        return self.cidr is not None

    def if_local(self):
        return ["-s", self.cidr] if self.cidr else []

    def if_not_local(self):
        return ["!", "-s", self.cidr] if self.cidr else []
