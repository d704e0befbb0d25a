"""The thin adapter over the kernel's network state: links, addresses, neighbours, the
FDB, routes, spoken in netlink through pyroute2.

flannel talks to the kernel with vishvananda/netlink (``netlink.LinkAdd``, ``NeighSet``,
``RouteReplace`` ...), never through the ``ip`` command; kfs does the same with pyroute2.
The methods are the few the backends use, named after what ``ip``/``bridge`` would show:

=====================================  ===================================================
``add_vxlan(...)``                     ``ip link add flannel.1 type vxlan id 1 dstport 8472
                                       local 192.168.56.11 dev eth0 nolearning``
``neigh_set(index, ip, mac)``          ``ip neigh replace 10.244.2.0 lladdr MAC dev
                                       flannel.1 nud permanent``
``fdb_set(index, mac, dst)``           ``bridge fdb replace MAC dev flannel.1 dst
                                       192.168.56.12 self permanent``
``route_replace(Route(...))``          ``ip route replace 10.244.2.0/24 via 10.244.2.0 dev
                                       flannel.1 onlink``
=====================================  ===================================================

Deleting what is already gone is not an error (a removal may run twice). ``netns`` points
the adapter at a named network namespace (the tests' throwaway ones); flanneld itself
runs inside its machine's namespace and uses the default. One lock serialises calls: the
backend and the route check share one netlink socket.

What real Kubernetes does differently: nothing here is Kubernetes; the CNI plugins make
the same netlink calls for each pod's interface.
"""
import errno
import ipaddress
import threading
from dataclasses import dataclass, field

NUD_PERMANENT = 0x80
NTF_SELF = 0x02
RTNH_F_ONLINK = 0x04
MAIN_TABLE = 254
GONE = (errno.ENOENT, errno.ESRCH, errno.ENODEV, errno.EADDRNOTAVAIL)


class NetlinkError(OSError):
    """The kernel refused a request (``errno`` says why)."""


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    kind: str
    mtu: int
    mac: str
    up: bool = False
    vxlan: dict = field(default_factory=dict)   # id, local, port, learning, link


@dataclass(frozen=True)
class Route:
    dst: ipaddress.IPv4Network
    gw: str
    index: int
    onlink: bool = False


class Netlink:
    def __init__(self, netns=None):
        from pyroute2 import IPRoute
        self.ipr = IPRoute(netns=netns) if netns else IPRoute()
        self.lock = threading.Lock()

    def close(self):
        self.ipr.close()

    def _call(self, method, *args, gone_ok=False, **kwargs):
        from pyroute2.netlink.exceptions import NetlinkError as Pyroute2Error
        with self.lock:
            try:
                return getattr(self.ipr, method)(*args, **kwargs)
            except Pyroute2Error as e:
                if gone_ok and e.code in GONE:
                    return []
                raise NetlinkError(e.code, f"{method} {args[:1]} {kwargs}: {e}") from None

    # -- links ------------------------------------------------------------------------------

    def links(self):
        return [_link(msg) for msg in self._call("get_links")]

    def link(self, name):
        return next((link for link in self.links() if link.name == name), None)

    def link_by_index(self, index):
        return next((link for link in self.links() if link.index == index), None)

    def add_vxlan(self, name, vni, port, local, dev_index, mtu, mac, learning=False):
        kwargs = dict(ifname=name, kind="vxlan", vxlan_id=vni, vxlan_port=port,
                      vxlan_learning=int(learning), vxlan_local=local, mtu=mtu, address=mac)
        if dev_index:
            kwargs["vxlan_link"] = dev_index
        self._call("link", "add", **kwargs)
        return self.link(name)

    def delete_link(self, index):
        self._call("link", "del", index=index, gone_ok=True)

    def set_up(self, index):
        self._call("link", "set", index=index, state="up")

    # -- addresses --------------------------------------------------------------------------

    def addresses(self, index):
        """The IPv4 addresses on link `index`, as IPv4Interfaces."""
        return [ipaddress.IPv4Interface(f"{m.get('IFA_ADDRESS')}/{m['prefixlen']}")
                for m in self._call("get_addr", family=2, index=index)]

    def add_address(self, index, interface):
        interface = ipaddress.IPv4Interface(interface)
        self._call("addr", "add", index=index, address=str(interface.ip),
                   prefixlen=interface.network.prefixlen)

    def del_address(self, index, interface):
        interface = ipaddress.IPv4Interface(interface)
        self._call("addr", "del", index=index, address=str(interface.ip),
                   prefixlen=interface.network.prefixlen, gone_ok=True)

    def link_by_address(self, ip):
        """The link holding IPv4 address `ip`, or None."""
        for m in self._call("get_addr", family=2):
            if m.get("IFA_ADDRESS") == str(ip):
                return self.link_by_index(m["index"])
        return None

    # -- neighbours and the FDB -------------------------------------------------------------

    def neigh_set(self, index, ip, mac):
        self._call("neigh", "replace", ifindex=index, dst=str(ip), lladdr=mac,
                   state=NUD_PERMANENT)

    def neigh_del(self, index, ip, mac):
        self._call("neigh", "del", ifindex=index, dst=str(ip), lladdr=mac, gone_ok=True)

    def neighbours(self, index):
        """The permanent IPv4 neighbour entries on `index`: [(ip, mac)]."""
        return [(m.get("NDA_DST"), m.get("NDA_LLADDR"))
                for m in self._call("neigh", "dump", ifindex=index, family=2)
                if m["state"] & NUD_PERMANENT]

    def fdb_set(self, index, mac, dst):
        self._call("fdb", "replace", ifindex=index, lladdr=mac, dst=str(dst),
                   state=NUD_PERMANENT, flags=NTF_SELF)

    def fdb_del(self, index, mac, dst):
        self._call("fdb", "del", ifindex=index, lladdr=mac, dst=str(dst), gone_ok=True)

    def fdb(self, index):
        """The forwarding entries with a remote destination on `index`: [(mac, dst)]."""
        return [(m.get("NDA_LLADDR"), m.get("NDA_DST"))
                for m in self._call("fdb", "dump", ifindex=index) if m.get("NDA_DST")]

    # -- routes -----------------------------------------------------------------------------

    def route_replace(self, route):
        self._call("route", "replace", **_route_args(route))

    def route_del(self, route):
        self._call("route", "del", **_route_args(route), gone_ok=True)

    def routes(self, index=None):
        """The IPv4 routes of the main table (through link `index` only, if given)."""
        kwargs = {"table": MAIN_TABLE, "family": 2}
        if index is not None:
            kwargs["oif"] = index
        out = []
        for m in self._call("route", "dump", **kwargs):
            dst = m.get("RTA_DST") or "0.0.0.0"
            out.append(Route(ipaddress.IPv4Network(f"{dst}/{m['dst_len']}"), m.get("RTA_GATEWAY"),
                             m.get("RTA_OIF"), bool(m["flags"] & RTNH_F_ONLINK)))
        return out

    def default_route_index(self):
        """The link of the default route, or None."""
        return next((r.index for r in self.routes() if r.dst.prefixlen == 0), None)


def _route_args(route):
    args = dict(dst=str(route.dst), oif=route.index, table=MAIN_TABLE)
    if route.gw:
        args["gateway"] = str(route.gw)
    if route.onlink:
        args["flags"] = RTNH_F_ONLINK
    return args


def _link(msg):
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else None
    vxlan = {}
    if kind == "vxlan":
        data = info.get("IFLA_INFO_DATA")
        vxlan = {"id": data.get("IFLA_VXLAN_ID"), "local": data.get("IFLA_VXLAN_LOCAL"),
                 "port": data.get("IFLA_VXLAN_PORT"), "link": data.get("IFLA_VXLAN_LINK"),
                 "learning": bool(data.get("IFLA_VXLAN_LEARNING"))}
    return Link(msg["index"], msg.get("IFLA_IFNAME"), kind, msg.get("IFLA_MTU"),
                msg.get("IFLA_ADDRESS"), bool(msg["flags"] & 1), vxlan)
