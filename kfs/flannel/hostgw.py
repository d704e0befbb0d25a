"""The host-gw backend: no tunnel, one plain route per remote node.

Mirrors ``pkg/backend/hostgw/hostgw.go`` and ``pkg/backend/route_network.go``
(``RouteNetwork``: ``handleSubnetEvents``, ``routeAdd``, ``routeCheck``).

For each other node's lease, a route ``10.244.2.0/24 via 192.168.56.12 dev eth0``: the
node itself is the gateway to its pods. Packets travel unwrapped, so there is no
encapsulation cost (the pods keep the external interface's whole MTU), but every node
must be on **one L2 network** with the others: a gateway has to be directly reachable,
which a router between two racks would not forward for 10.244.x.x. For the same reason
host-gw refuses a ``--public-ip`` other than the interface's own address (a node behind
NAT). Every 10 seconds the routes it made are checked and any that went missing (someone
ran ``ip route flush``) are put back.

What real Kubernetes does differently: the same on IPv6; in the cloud, the
cloud-controller-manager's route controller writes the same routes into the VPC's route
table instead (the node's ``spec.podCIDR`` via the node's instance).
"""
import logging

from kfs.flannel.lease import ADDED, LeaseAttrs
from kfs.flannel.netlink import NetlinkError, Route

log = logging.getLogger("kfs.flannel.hostgw")

ROUTE_CHECK_INTERVAL = 10.0   # upstream's routeCheckRetries seconds


class HostGWBackend:
    def __init__(self, manager, ext_iface, nl):
        if ext_iface.ext_addr != ext_iface.iface_addr:
            raise ValueError("your PublicIP differs from interface IP, meaning that probably "
                             "you're on a NAT, which is not supported by host-gw backend")
        self.manager, self.ext, self.nl = manager, ext_iface, nl

    def register_network(self, config):
        self.manager.acquire_lease(config, LeaseAttrs(self.ext.ext_addr, "host-gw"))
        return RouteNetwork(self.manager, self.nl, self.ext.mtu, self.ext.index)


class RouteNetwork:
    backend_type = "host-gw"

    def __init__(self, manager, nl, mtu, link_index):
        self.manager, self.nl, self.mtu, self.link_index = manager, nl, mtu, link_index
        self.routes = []   # the routes this network made, for the route check

    @property
    def lease(self):
        return self.manager.lease

    def get_route(self, lease):
        return Route(lease.subnet, lease.attrs.public_ip, self.link_index)

    def run(self, stopped, synced=None):
        from kfs.flannel.local_manager import start_thread
        log.info("watching for new subnet leases")
        start_thread(self.route_check, "route-check", stopped)
        self.manager.watch_leases(self.handle_subnet_events, stopped, synced)

    def handle_subnet_events(self, batch):
        for event in batch:
            lease = event.lease
            if lease.attrs is None or lease.attrs.backend_type != self.backend_type:
                log.warning("ignoring non-%s subnet %s", self.backend_type, lease.subnet)
                continue
            route = self.get_route(lease)
            if event.type == ADDED:
                log.info("subnet added: %s via %s", lease.subnet, lease.attrs.public_ip)
                self.route_add(route)
            else:
                log.info("subnet removed: %s", lease.subnet)
                self.routes = [r for r in self.routes if r.dst != route.dst]
                try:
                    self.nl.route_del(route)
                except NetlinkError as e:
                    log.error("error deleting route to %s: %s", lease.subnet, e)

    def route_add(self, route):
        """Add `route`, replacing a route to the same subnet through another gateway."""
        self.routes = [r for r in self.routes if r.dst != route.dst] + [route]
        existing = [r for r in self.nl.routes() if r.dst == route.dst]
        if existing and existing[0] == route:
            log.info("route to %s already exists, skipping", route.dst)
            return
        try:
            self.nl.route_replace(route)
        except NetlinkError as e:
            log.error("error adding route to %s via %s: %s", route.dst, route.gw, e)

    def check_routes(self):
        """Put back any route this network made that is no longer in the kernel."""
        present = set(self.nl.routes())
        for route in list(self.routes):
            if route not in present:
                try:
                    self.nl.route_replace(route)
                    log.info("route recovered %s via %s", route.dst, route.gw)
                except NetlinkError as e:
                    log.error("error recovering route to %s: %s", route.dst, e)

    def route_check(self, stopped, interval=ROUTE_CHECK_INTERVAL):
        while not stopped.wait(interval):
            try:
                self.check_routes()
            except NetlinkError as e:
                log.error("error fetching route list, will retry: %s", e)
