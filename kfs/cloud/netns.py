"""The netns lab as a cloud: its machines are the instances, its network has the LB pool.

Mirrors a cloud provider's ``instances.go``/``loadbalancer.go`` pair (the shape of
``cloud-provider-aws``'s or ``cloud-provider-kind``'s), with the lab as the IaaS. The provider
never imports the lab (components do not know it): it reads the machine inventory through an
``Inventory`` passed in (``instances()`` returning ``LabInstance``\\ s), and a load balancer
is an address from a pool on the lab network (by default .200–.250 of the lab's /24) plus a
backend list: every eligible node's address and the Service's NodePort per port. Making
traffic to that address reach the backends is a ``Forwarder``'s job (a netns machine of the
lab forwarding to the NodePorts, health-checked on kube-proxy's 10256 or the Service's
``healthCheckNodePort``); the provider calls ``ensure`` and ``delete`` on it.

A load balancer's address sticks to its Service: ``spec.loadBalancerIP`` if asked for and
free, else the address already in ``status.loadBalancer.ingress`` (so a restarted
cloud-controller-manager hands the same one back), else the lowest free one.

A restarted cloud-controller-manager learns the balancers already served from the forwarder
(``load``), so their addresses stay taken. In the lab the forwarder is
``kfs.cloud.loadbalancer.FileForwarder``: one JSON file per balancer for the ``kfs
load-balancer`` process of the lab's load balancer machine.

What real Kubernetes does differently: a real cloud's load balancers and their addresses
live in the cloud's own API (here in this process and in the forwarder's files); clouds
offer L4 and L7 kinds chosen by Service annotations; the ``ipMode`` VIP/Proxy distinction
says whether kube-proxy also routes the address itself.
"""
import ipaddress
import json
import logging
import threading
from dataclasses import dataclass, field

from kfs.cloud import cloud

log = logging.getLogger("kfs.cloud.netns")

KUBE_PROXY_HEALTHZ_PORT = 10256
EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


@dataclass
class LabInstance:
    """One machine of the lab as the inventory describes it."""
    name: str
    address: str
    zone: str = ""
    region: str = ""
    running: bool = True
    instance_type: str = "netns"


class Inventory:
    """What the provider needs of the lab: its machines now."""

    def instances(self):  # pragma: no cover - the protocol
        raise NotImplementedError


class FileInventory(Inventory):
    """The inventory as a JSON file the lab keeps: ``{"machines": [{"name", "address", "zone",
    "region", "running", "instance_type"}, ...]}``, read on every question (the lab rewrites
    it when it adds, stops or removes a machine)."""

    def __init__(self, path):
        self.path = path

    def instances(self):
        try:
            with open(self.path) as f:
                machines = json.load(f).get("machines") or []
        except (OSError, ValueError) as e:
            raise cloud.CloudError(f"the lab's inventory {self.path}: {e}") from None
        return [LabInstance(**m) for m in machines]


class Forwarder:
    """What carries a load balancer's traffic; this one carries nothing (the lab's is
    ``kfs.cloud.loadbalancer.FileForwarder``, for its ``lb`` machine)."""

    def ensure(self, name, address, ports, backends, health_check_port, service=""):
        """Serve `address`: each of `ports` ({"protocol", "port", "nodePort"}) to every backend
        address at that nodePort, checking backends on `health_check_port` (for the Service
        `service`, "namespace/name")."""

    def delete(self, name):
        """Stop serving the load balancer called `name` (not an error if it serves none)."""

    def load(self):
        """{name: {"address", "service", ...}} of the balancers it serves (after a restart)."""
        return {}


@dataclass
class Balancer:
    """One load balancer: what the forwarder was last told."""
    name: str
    service: str
    address: str
    ports: list = field(default_factory=list)
    backends: list = field(default_factory=list)
    health_check_port: int = KUBE_PROXY_HEALTHZ_PORT


def default_pool(subnet):
    """.200–.250 of the lab's network."""
    net = ipaddress.ip_network(subnet)
    return str(net.network_address + 200), str(net.network_address + 250)


class NetnsCloud(cloud.Interface, cloud.InstancesV2, cloud.LoadBalancer, cloud.Zones):
    def __init__(self, lab, inventory, subnet="192.168.56.0/24", pool=None, forwarder=None,
                 ip_mode="VIP"):
        self.lab, self.inventory, self.ip_mode = lab, inventory, ip_mode
        first, last = pool or default_pool(subnet)
        self.pool = _address_range(first, last)
        self.forwarder = forwarder or Forwarder()
        self.balancers = {  # name -> Balancer; those served already come back with their address
            name: Balancer(name, b.get("service", ""), b["address"])
            for name, b in self.forwarder.load().items() if b.get("address") in self.pool}
        self.lock = threading.Lock()

    def provider_name(self):
        return "netns"

    def instances_v2(self):
        return self

    def load_balancer(self):
        return self

    def zones(self):
        return self

    # -- InstancesV2 ------------------------------------------------------------------------------

    def find(self, node):
        name = cloud.instance_name(node, self.lab)
        return next((i for i in self.inventory.instances() if i.name == name), None)

    def instance_exists(self, node):
        try:
            return self.find(node) is not None
        except cloud.InstanceNotFound:
            return False

    def instance_shutdown(self, node):
        instance = self.find(node)
        if instance is None:
            raise cloud.InstanceNotFound(node["metadata"]["name"])
        return not instance.running

    def instance_metadata(self, node):
        i = self.find(node)
        if i is None:
            raise cloud.InstanceNotFound(f"no machine {cloud.instance_name(node, self.lab)!r} "
                                         f"in lab {self.lab!r}")
        return cloud.InstanceMetadata(
            provider_id=cloud.provider_id(self.lab, i.name), instance_type=i.instance_type,
            node_addresses=[{"type": "InternalIP", "address": i.address},
                            {"type": "Hostname", "address": i.name}],
            zone=i.zone, region=i.region)

    # -- Zones ------------------------------------------------------------------------------------

    def get_zone_by_provider_id(self, provider_id):
        lab, machine = cloud.parse_provider_id(provider_id)
        return self.get_zone_by_node_name(machine)

    def get_zone_by_node_name(self, node_name):
        i = next((i for i in self.inventory.instances() if i.name == node_name), None)
        if i is None:
            raise cloud.InstanceNotFound(node_name)
        return cloud.Zone(i.zone, i.region)

    # -- LoadBalancer -------------------------------------------------------------------------------

    def get_load_balancer(self, cluster_name, service):
        with self.lock:
            b = self.balancers.get(self.get_load_balancer_name(cluster_name, service))
        return (_status(b, self.ip_mode), True) if b else (None, False)

    def ensure_load_balancer(self, cluster_name, service, nodes):
        name = self.get_load_balancer_name(cluster_name, service)
        with self.lock:
            b = self.balancers.get(name)
            if b is None:
                b = Balancer(name, _service_key(service), self._allocate(service))
                self.balancers[name] = b
                log.info("load balancer %s for %s: address %s", name, b.service, b.address)
            self._configure(b, service, nodes)
            return _status(b, self.ip_mode)

    def update_load_balancer(self, cluster_name, service, nodes):
        name = self.get_load_balancer_name(cluster_name, service)
        with self.lock:
            b = self.balancers.get(name)
            if b is None:
                raise cloud.CloudError(f"load balancer {name} of {_service_key(service)} "
                                       "does not exist")
            self._configure(b, service, nodes)

    def ensure_load_balancer_deleted(self, cluster_name, service):
        name = self.get_load_balancer_name(cluster_name, service)
        with self.lock:
            b = self.balancers.pop(name, None)
        self.forwarder.delete(name)  # also one this process never knew (served before a restart)
        if b is not None:
            log.info("load balancer %s of %s deleted: %s released", name, b.service, b.address)

    def _configure(self, b, service, nodes):
        b.ports = [{"protocol": p.get("protocol", "TCP"), "port": p["port"],
                    "nodePort": p.get("nodePort")} for p in service["spec"].get("ports") or []]
        b.backends = backend_addresses(nodes)
        b.health_check_port = health_check_port(service)
        b.service = _service_key(service)
        self.forwarder.ensure(b.name, b.address, b.ports, b.backends, b.health_check_port,
                              service=b.service)

    def _allocate(self, service):
        taken = {b.address for b in self.balancers.values()}
        wanted = [service["spec"].get("loadBalancerIP")] + [
            i.get("ip") for i in (service.get("status", {}).get("loadBalancer", {})
                                  .get("ingress") or [])]
        for address in [w for w in wanted if w] + self.pool:
            if address in self.pool and address not in taken:
                return address
        raise cloud.CloudError(f"no free address in the load balancer pool "
                               f"{self.pool[0]}-{self.pool[-1]} ({len(self.pool)} in use)")


def backend_addresses(nodes):
    """Each node's InternalIP, in name order (what the forwarder sends traffic to)."""
    found = []
    for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
        for a in (node.get("status") or {}).get("addresses") or []:
            if a.get("type") == "InternalIP":
                found.append(a["address"])
                break
    return found


def health_check_port(service):
    """The Service's healthCheckNodePort (externalTrafficPolicy Local), else kube-proxy's."""
    return service["spec"].get("healthCheckNodePort") or KUBE_PROXY_HEALTHZ_PORT


def _status(b, ip_mode="VIP"):
    """``ipMode`` VIP: kube-proxy routes the address itself too (traffic from pods, and on the
    machine holding it); Proxy: it leaves the address to the load balancer (the Vagrant lab's
    addresses are on cp, whose kube-proxy could only send them to pods it has no route to)."""
    return {"ingress": [{"ip": b.address, "ipMode": ip_mode}]}


def _service_key(service):
    md = service["metadata"]
    return f"{md.get('namespace', 'default')}/{md['name']}"


def _address_range(first, last):
    a, z = ipaddress.ip_address(first), ipaddress.ip_address(last)
    if z < a:
        raise ValueError(f"load balancer pool {first}-{last}: the last address is below the first")
    return [str(a + i) for i in range(int(z) - int(a) + 1)]


def new_cloud(cloud_config=None, **kwargs):
    """The provider from ``--cloud-config FILE`` (JSON: ``lab``, ``subnet``, optional ``pool``
    [first, last], optional ``balancersDir`` for ``kfs load-balancer``, optional ``ipMode``
    (VIP, the default, or Proxy) and the ``machines`` of FileInventory), or from keyword
    arguments."""
    if cloud_config is None:
        return NetnsCloud(**kwargs)
    try:
        with open(cloud_config) as f:
            config = json.load(f)
        lab = config["lab"]
    except (OSError, ValueError, KeyError) as e:
        why = e.strerror if isinstance(e, OSError) else f"no {e}" if isinstance(e, KeyError) \
            else str(e)
        raise ValueError(f"--cloud-config {cloud_config}: {why}; the netns provider wants JSON "
                         '{"lab": ..., "subnet": ..., "machines": [...]}') from None
    if config.get("balancersDir") and "forwarder" not in kwargs:
        from kfs.cloud.loadbalancer import FileForwarder
        kwargs["forwarder"] = FileForwarder(config["balancersDir"])
    return NetnsCloud(lab, FileInventory(cloud_config), subnet=config.get("subnet",
                      "192.168.56.0/24"), pool=config.get("pool"),
                      ip_mode=config.get("ipMode", "VIP"), **kwargs)


cloud.register_cloud_provider("netns", new_cloud)
