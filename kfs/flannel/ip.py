"""Which interface carries the traffic between nodes, and one address on a link.

Mirrors ``pkg/ip/iface.go`` (``GetInterfaceByIP``, ``GetDefaultGatewayInterface``,
``EnsureV4AddressOnLink``) and ``pkg/ipmatch/match.go`` (``LookupExtIface``), over the
netlink adapter (``kfs.flannel.netlink``, or a fake in the unit tests).

The *external interface* is the one the nodes reach each other through (in the lab, the
machine's ``eth0`` on 192.168.56.0/24): ``--iface`` names it, by name or by one of its
addresses (the first that exists wins, the flag may repeat); without ``--iface``, the
interface holding ``--public-ip``, else the one of the default route. Its first IPv4
address is the node's address, unless ``--public-ip`` says otherwise (a node behind NAT).
The vxlan device sends from that address, its MTU bounds the device's, and it is what
the node's lease publishes as ``PublicIP``.

What real Kubernetes does differently: upstream also matches ``--iface-regex`` and
``--iface-can-reach`` (the interface ``ip route get`` would use), and IPv6 addresses.
"""
import ipaddress
import logging
from dataclasses import dataclass

log = logging.getLogger("kfs.flannel.ip")


class InterfaceError(LookupError):
    """No interface matches what the flags ask for; the message says which."""


@dataclass(frozen=True)
class ExternalInterface:
    index: int
    name: str
    mtu: int
    iface_addr: str     # the interface's own IPv4 address
    ext_addr: str       # the address other nodes use: --public-ip, else iface_addr


def _is_ip(text):
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


def _find(nl, spec):
    if _is_ip(spec):
        link = nl.link_by_address(spec)
        return link, spec
    return nl.link(spec), None


def lookup_ext_iface(nl, ifaces=(), public_ip=None):
    """The `ExternalInterface` for ``--iface`` (names or IPs, first match) and
    ``--public-ip``; InterfaceError if none fits."""
    link = address = None
    for spec in ifaces:
        link, address = _find(nl, spec)
        if link is not None:
            break
        log.info("could not find an interface matching %s", spec)
    if ifaces and link is None:
        raise InterfaceError(f"--iface: no interface is named or has the address "
                             f"{', '.join(ifaces)}")
    if link is None and public_ip:
        link, address = nl.link_by_address(public_ip), public_ip
    if link is None:
        index = nl.default_route_index()
        link = nl.link_by_index(index) if index is not None else None
        if link is None:
            raise InterfaceError("no default route to find the external interface by: "
                                 "pass --iface NAME or --iface IP")
    if address is None:
        addrs = nl.addresses(link.index)
        if not addrs:
            raise InterfaceError(f"interface {link.name} has no IPv4 address")
        address = str(addrs[0].ip)
    return ExternalInterface(link.index, link.name, link.mtu, address, public_ip or address)


def ensure_v4_address_on_link(nl, link_index, interface, network):
    """Make `interface` (e.g. 10.244.1.0/32) the only address of `network` on the link."""
    interface = ipaddress.IPv4Interface(interface)
    have = False
    for existing in nl.addresses(link_index):
        if existing == interface:
            have = True
        elif existing.ip in network:
            nl.del_address(link_index, existing)
            log.info("removed IP address %s from link %d", existing, link_index)
    if not have:
        nl.add_address(link_index, interface)
