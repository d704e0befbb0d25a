"""The lab's wires: a bridge for the host-only network, a network namespace per machine.

This is what VirtualBox does for the Vagrant lab, done with ``ip`` and ``iptables``:

- a bridge in the host's namespace (``kfs0``, ``192.168.56.1/24``) plays the host-only
  network; the host reaches every machine through it;
- each machine is a network namespace holding one end of a veth pair (``eth0``, its lab
  address, default route via the host); the other end is plugged into the bridge;
- two iptables chains of our own in the host's namespace: ``FORWARD`` accepts traffic on the
  bridge (a Docker on the host sets FORWARD's policy to DROP, and with ``br_netfilter``
  even bridged frames pass through it), ``POSTROUTING`` masquerades the lab's traffic
  to the outside world (for labs with internet, where the kubelet pulls images).

Every function checks before it acts, so calling it again is a no-op and calling it after a
crash repairs only what is missing.

What VirtualBox does differently: a virtual NIC per VM on a host-only adapter, with its own
DHCP server; kind puts its nodes on a Docker network instead.
"""
import json
import subprocess


def run(*argv, check=True, input=None):
    """The one adapter to the system's networking tools."""
    return subprocess.run([str(a) for a in argv], check=check, capture_output=True,
                          text=True, input=input)


def ip_json(*argv):
    out = run("ip", "-j", *argv, check=False)
    return json.loads(out.stdout or "[]") if out.returncode == 0 else None


def netns_exists(name):
    return any(ns["name"] == name for ns in ip_json("netns", "list") or [])


def link(name, netns=None):
    """The `ip -j link show` record of a device, or None."""
    found = ip_json(*(["-n", netns] if netns else []), "link", "show", "dev", name)
    return found[0] if found else None


def addresses(name, netns=None):
    found = ip_json(*(["-n", netns] if netns else []), "addr", "show", "dev", name) or []
    return [f"{a['local']}/{a['prefixlen']}" for d in found for a in d.get("addr_info", [])
            if a["family"] == "inet"]


def mac_for(address):
    """A fixed MAC for a lab address, as a VM's NIC has one (02: locally administered).

    A machine recreated by a repair keeps its MAC, so the ARP caches of the host and the
    other machines stay right; a random one would leave them sending to the old MAC for
    half a minute.
    """
    octets = address.split("/")[0].split(".")
    return "02:6b:" + ":".join(f"{int(o):02x}" for o in octets)


def ensure_bridge(bridge, address):
    if not link(bridge):  # an explicit MAC: a bridge would otherwise take its ports' lowest
        run("ip", "link", "add", bridge, "address", mac_for(address), "type", "bridge")
    if address not in addresses(bridge):
        run("ip", "addr", "add", address, "dev", bridge)
    run("ip", "link", "set", bridge, "up")


def ensure_machine(netns, veth, bridge, address, gateway):
    """A namespace with lo up, eth0 = `address`, default route via `gateway`."""
    if not netns_exists(netns):
        run("ip", "netns", "add", netns)
    if not link("eth0", netns):
        if link(veth):  # half a pair left by a crash
            run("ip", "link", "del", veth)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0",
            "address", mac_for(address), "netns", netns)
    run("ip", "link", "set", veth, "master", bridge, "up")
    run("ip", "-n", netns, "link", "set", "lo", "up")
    if address not in addresses("eth0", netns):
        run("ip", "-n", netns, "addr", "add", address, "dev", "eth0")
    run("ip", "-n", netns, "link", "set", "eth0", "up")
    run("ip", "-n", netns, "route", "replace", "default", "via", gateway)


def remove_machine(netns, veth):
    if link(veth):
        run("ip", "link", "del", veth)
    if netns_exists(netns):
        run("ip", "netns", "del", netns)


def remove_bridge(bridge):
    if link(bridge):
        run("ip", "link", "del", bridge)


def _rule(table, chain, *spec, insert=False):
    """Append (or insert first) an iptables rule unless it is there already."""
    if run("iptables", "-w", "-t", table, "-C", chain, *spec, check=False).returncode != 0:
        run("iptables", "-w", "-t", table, "-I" if insert else "-A", chain, *spec)


def _chain(table, chain):
    run("iptables", "-w", "-t", table, "-N", chain, check=False)


def ensure_firewall(chain, bridge, subnet):
    _chain("filter", chain)
    _rule("filter", chain, "-i", bridge, "-j", "ACCEPT")
    _rule("filter", chain, "-o", bridge, "-j", "ACCEPT")
    _rule("filter", "FORWARD", "-j", chain, insert=True)
    _chain("nat", chain)
    _rule("nat", chain, "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE")
    _rule("nat", "POSTROUTING", "-j", chain, insert=True)


def remove_firewall(chain):
    for table, parent in (("filter", "FORWARD"), ("nat", "POSTROUTING")):
        while run("iptables", "-w", "-t", table, "-D", parent, "-j", chain,
                  check=False).returncode == 0:
            pass
        run("iptables", "-w", "-t", table, "-F", chain, check=False)
        run("iptables", "-w", "-t", table, "-X", chain, check=False)


def sysctl(key, value=None, netns=None):
    """Read (and optionally set) a sysctl, in the host's or a machine's namespace."""
    path = "/proc/sys/" + key.replace(".", "/")
    prefix = ["ip", "netns", "exec", netns] if netns else []
    old = run(*prefix, "cat", path).stdout.strip()
    if value is not None and old != str(value):
        run(*prefix, "sh", "-c", f"echo {value} > {path}")
    return old
