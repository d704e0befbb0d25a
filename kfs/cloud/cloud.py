"""The cloud provider interface and the registry of providers by name.

Mirrors ``k8s.io/cloud-provider/cloud.go`` (``Interface``, ``InstancesV2``, ``LoadBalancer``,
``Zones``, ``InstanceMetadata``, ``Zone``, ``InstanceNotFound``, ``GetLoadBalancerName``) and
``plugins.go`` (``RegisterCloudProvider``, ``GetCloudProvider``), shrunk to the methods the
cloud-controller-manager's node, node lifecycle and service controllers call. A provider
answers ``instances_v2()``, ``load_balancer()`` and ``zones()`` with an object, or None when
it does not offer that part (Go's ``(impl, bool)`` pairs).

Nodes are Node dicts, services Service dicts, as the API server returns them. Addresses are
``{"type": "InternalIP"|"ExternalIP"|"Hostname", "address": ...}`` as in a Node's
``status.addresses``; a load balancer's status is ``{"ingress": [{"ip": ...}]}`` as in a
Service's ``status.loadBalancer``.

What real Kubernetes does differently: the interface also has ``Clusters`` and ``Routes``
(and the deprecated ``Instances``), methods take a ``context.Context``, providers are Go
packages compiled into their own cloud-controller-manager binary (out of tree, one per
cloud), configured by a ``--cloud-config`` file; registration happens in each provider's
``init()``. Here the registry maps a name to the module that registers it, imported on first
use (a plug-in table, as the ``kfs`` command's ``COMPONENTS``).
"""
import importlib
import threading
from dataclasses import dataclass, field

PROVIDER_ID_SCHEME = "kfs"


class InstanceNotFound(LookupError):
    """cloudprovider.InstanceNotFound: the cloud has no instance for this node."""


class CloudError(RuntimeError):
    """The cloud could not answer (the IaaS's own command failed); worth a retry."""


@dataclass
class Zone:
    """cloudprovider.Zone: where an instance runs."""
    failure_domain: str = ""
    region: str = ""


@dataclass
class InstanceMetadata:
    """cloudprovider.InstanceMetadata: what the node controller writes onto a Node."""
    provider_id: str
    instance_type: str = ""
    node_addresses: list = field(default_factory=list)
    zone: str = ""
    region: str = ""


class InstancesV2:
    """Instances by Node (their spec.providerID if set, else their name)."""

    def instance_exists(self, node):  # pragma: no cover - the interface
        """True if the instance for `node` exists; False when the cloud says it is gone."""
        raise NotImplementedError

    def instance_shutdown(self, node):  # pragma: no cover - the interface
        """True if the instance exists but is stopped."""
        raise NotImplementedError

    def instance_metadata(self, node):  # pragma: no cover - the interface
        """InstanceMetadata; raises InstanceNotFound."""
        raise NotImplementedError


class LoadBalancer:
    """Load balancers for Services of type LoadBalancer, each in front of `nodes`."""

    def get_load_balancer(self, cluster_name, service):  # pragma: no cover - the interface
        """(status, exists): status as the Service's status.loadBalancer."""
        raise NotImplementedError

    def get_load_balancer_name(self, cluster_name, service):
        return default_load_balancer_name(service)

    def ensure_load_balancer(self, cluster_name, service, nodes):  # pragma: no cover
        """Create or update; return the status (status.loadBalancer)."""
        raise NotImplementedError

    def update_load_balancer(self, cluster_name, service, nodes):  # pragma: no cover
        """The nodes changed: point the load balancer at these."""
        raise NotImplementedError

    def ensure_load_balancer_deleted(self, cluster_name, service):  # pragma: no cover
        """Delete it if it exists; not an error if it does not."""
        raise NotImplementedError


class Zones:
    def get_zone_by_provider_id(self, provider_id):  # pragma: no cover - the interface
        raise NotImplementedError

    def get_zone_by_node_name(self, node_name):  # pragma: no cover - the interface
        raise NotImplementedError


class Interface:
    """cloudprovider.Interface."""

    def provider_name(self):  # pragma: no cover - the interface
        raise NotImplementedError

    def instances_v2(self):
        return None

    def load_balancer(self):
        return None

    def zones(self):
        return None

    def has_cluster_id(self):
        return True


def default_load_balancer_name(service):
    """cloudprovider.DefaultLoadBalancerName: "a" + the Service's UID without dashes, at most
    32 characters (what clouds accept as a name)."""
    uid = service["metadata"].get("uid", "").replace("-", "")
    return ("a" + uid)[:32]


def provider_id(lab, machine):
    """``kfs://<lab>/<machine>``: the form of spec.providerID in both labs."""
    return f"{PROVIDER_ID_SCHEME}://{lab}/{machine}"


def parse_provider_id(text):
    """``kfs://lab/machine`` -> (lab, machine); ValueError names the expected form."""
    scheme, sep, rest = (text or "").partition("://")
    lab, slash, machine = rest.partition("/")
    if scheme != PROVIDER_ID_SCHEME or not sep or not slash or not lab or not machine:
        raise ValueError(f"providerID {text!r} is not of the form kfs://<lab>/<machine>")
    return lab, machine


def instance_name(node, lab):
    """The machine a Node runs on: its providerID's machine, or else its name."""
    pid = (node.get("spec") or {}).get("providerID")
    if not pid:
        return node["metadata"]["name"]
    owner, machine = parse_provider_id(pid)
    if owner != lab:
        raise InstanceNotFound(f"providerID {pid} belongs to lab {owner!r}, not {lab!r}")
    return machine


# -- the registry (plugins.go) ---------------------------------------------------------------

# name -> module that registers it when imported
PROVIDERS = {"netns": "kfs.cloud.netns", "vagrant": "kfs.cloud.vagrant"}
_factories = {}
_lock = threading.Lock()


def register_cloud_provider(name, factory):
    """RegisterCloudProvider: `factory(**config)` makes the provider."""
    with _lock:
        if name in _factories:
            raise ValueError(f"cloud provider {name!r} was registered twice")
        _factories[name] = factory


def cloud_provider_names():
    return sorted(set(PROVIDERS) | set(_factories))


def get_cloud_provider(name, **config):
    """GetCloudProvider / InitCloudProvider: the provider called `name`, made with `config`."""
    if name not in _factories and name in PROVIDERS:
        importlib.import_module(PROVIDERS[name])
    factory = _factories.get(name)
    if factory is None:
        raise ValueError(f"unknown cloud provider {name!r}; known: "
                         f"{', '.join(cloud_provider_names())}")
    return factory(**config)
