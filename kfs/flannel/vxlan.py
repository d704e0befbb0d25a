"""The vxlan backend: one ``flannel.1`` device per node, and per remote node three entries.

Mirrors ``pkg/backend/vxlan/vxlan.go`` (``RegisterNetwork``, ``parseVXLANConfig``,
``createVXLANDevice``) and ``device.go`` (``newVXLANDevice``, ``ensureLink``,
``Configure``); the per-remote entries are in ``vxlan_network``.

VXLAN wraps Ethernet frames in UDP (port 8472 here, as the Linux default flannel relies
on): a pod's packet to another node's pod leaves as a UDP packet from this node's address
to that node's address, and the other node's ``flannel.1`` unwraps it. flannel is L3
only: it never lets the kernel learn or ask anything (``nolearning``, no L2/L3 miss
callouts) and writes every entry itself, so nothing depends on flanneld staying alive.

How it works. Create the vxlan device (VNI 1, ``local`` = this node's public IP, MTU =
the external interface's less 50 bytes of encapsulation, address = the subnet's ``.0``
as a /32, so no broadcast route appears), take a lease whose ``BackendData`` carries the
VNI and the device's MAC address (the VTEP MAC), and then, as each remote node is found
(at start, or when its lease appears), do three things:

1. an **ARP (neighbour) entry**: the remote node's ``flannel.1`` address (its subnet's
   ``.0``) has that node's VTEP MAC, permanently, so the kernel never has to ask;
2. an **FDB entry**: frames for that VTEP MAC go, wrapped, to the remote node's public
   IP, so the kernel knows where to send the UDP packet;
3. a **route**: the remote subnet is reached via its ``.0`` over ``flannel.1``, ``onlink``
   (the gateway is not in any local subnet, but trust it is on the link).

Upstream's header lists the route first, but its code adds it last, as kfs does: with
the route in place before the neighbour entry, the kernel would ARP for the gateway and
the first packets would be lost. When a lease is deleted or expires, the three entries go.
Scaling is linear: one route, one neighbour and one FDB entry per remote host.

What real Kubernetes does differently: upstream keeps the VTEP MAC across restarts in the
Node's annotations (kube subnet manager), can skip vxlan for nodes on the same L2 network
(``DirectRouting``), supports GBP and IPv6 (``flannel-v6.1``), and recreates the device if
someone deletes it.
"""
import errno
import logging
import os
from dataclasses import dataclass

from kfs.flannel.config import ConfigError, fields
from kfs.flannel.ip import ensure_v4_address_on_link
from kfs.flannel.lease import LeaseAttrs
from kfs.flannel.netlink import NetlinkError

log = logging.getLogger("kfs.flannel.vxlan")

DEFAULT_VNI = 1
DEFAULT_PORT = 8472        # the Linux kernel's vxlan port, flannel's default
ENCAP_OVERHEAD = 50        # outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8


@dataclass(frozen=True)
class VXLANConfig:
    vni: int
    port: int
    mtu: int        # of the external interface, unless the config says otherwise
    learning: bool = False


def parse_vxlan_config(backend, default_mtu):
    """The ``Backend`` object of the network config as a VXLANConfig (ConfigError if bad)."""
    f = fields(backend or {})
    for flag in ("gbp", "directrouting"):
        if f.get(flag):
            raise ConfigError(f"Backend.{flag}: not supported by kfs flanneld")

    def number(name, default):
        value = f.get(name.lower(), default) or default
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"Backend.{name}: {value!r} is not a positive number")
        return value
    vni, port, mtu = number("VNI", DEFAULT_VNI), number("Port", DEFAULT_PORT), \
        number("MTU", default_mtu)
    if vni >= 1 << 24:
        raise ConfigError(f"Backend.VNI: {vni} does not fit in 24 bits")
    return VXLANConfig(vni, port, mtu, bool(f.get("learning")))


def new_hardware_addr(random_bytes=os.urandom):
    """A random, locally administered, unicast MAC (upstream's ``mac.NewHardwareAddr``)."""
    b = bytearray(random_bytes(6))
    b[0] = (b[0] & 0xFE) | 0x02
    return ":".join(f"{x:02x}" for x in b)


@dataclass(frozen=True)
class VXLANDeviceAttrs:
    name: str
    vni: int
    mtu: int            # the device's own MTU (the config's less the overhead)
    vtep_index: int
    vtep_addr: str
    port: int
    learning: bool = False


def links_incompat(want, link):
    """Why an existing `link` cannot serve as the device `want` describes ("" if it can)."""
    if link.kind != "vxlan":
        return f"link type: {link.kind} vs vxlan"
    have = link.vxlan
    if have.get("id") != want.vni:
        return f"vni: {have.get('id')} vs {want.vni}"
    if want.vtep_index and have.get("link") and have["link"] != want.vtep_index:
        return f"vtep (external) interface: {have['link']} vs {want.vtep_index}"
    if have.get("local") and have["local"] != want.vtep_addr:
        return f"vtep (external) IP: {have['local']} vs {want.vtep_addr}"
    if have.get("port") and have["port"] != want.port:
        return f"port: {have['port']} vs {want.port}"
    return ""


def ensure_link(nl, want, mac=None):
    """The vxlan device: created, or the existing one kept if compatible (its MAC too,
    so a restarted flanneld announces the same VTEP MAC), else recreated."""
    try:
        return nl.add_vxlan(want.name, want.vni, want.port, want.vtep_addr, want.vtep_index,
                            want.mtu, mac or new_hardware_addr(), want.learning)
    except NetlinkError as e:
        if e.errno != errno.EEXIST:
            raise
    existing = nl.link(want.name)
    reason = links_incompat(want, existing)
    if not reason:
        log.info("vxlan device %s already exists, keeping it", want.name)
        return existing
    log.warning("%s already exists with incompatible configuration: %s; recreating device",
                want.name, reason)
    nl.delete_link(existing.index)
    return nl.add_vxlan(want.name, want.vni, want.port, want.vtep_addr, want.vtep_index,
                        want.mtu, mac or new_hardware_addr(), want.learning)


def device_name(vni):
    return f"flannel.{vni}"


class VXLANBackend:
    def __init__(self, manager, ext_iface, nl):
        self.manager, self.ext, self.nl = manager, ext_iface, nl

    def register_network(self, config):
        """The device, the lease, the device's address: a VXLANNetwork ready to run."""
        from kfs.flannel.vxlan_network import VXLANNetwork
        cfg = parse_vxlan_config(config.backend, self.ext.mtu)
        log.info("VXLAN config: VNI=%d Port=%d Learning=%s", cfg.vni, cfg.port, cfg.learning)
        attrs = VXLANDeviceAttrs(device_name(cfg.vni), cfg.vni, cfg.mtu - ENCAP_OVERHEAD,
                                 self.ext.index, self.ext.ext_addr, cfg.port, cfg.learning)
        dev = ensure_link(self.nl, attrs)
        lease_attrs = LeaseAttrs(self.ext.ext_addr, "vxlan",
                                 {"VNI": cfg.vni, "VtepMAC": dev.mac})
        lease = self.manager.acquire_lease(config, lease_attrs)
        configure(self.nl, dev, lease.subnet.network_address, config.network)
        return VXLANNetwork(self.manager, self.nl, dev, cfg.mtu - ENCAP_OVERHEAD)


def configure(nl, dev, address, network):
    """The subnet's ``.0`` as the device's only address in the network (a /32), and up."""
    ensure_v4_address_on_link(nl, dev.index, f"{address}/32", network)
    nl.set_up(dev.index)
