"""The network config every flanneld reads from ``<prefix>/config`` in etcd.

Mirrors ``pkg/subnet/config.go`` (``ParseConfig``, ``CheckNetworkConfig``). The config is
JSON, put there once by whoever sets up the cluster::

    etcdctl put /coreos.com/network/config \\
        '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan"}}'

``Network`` is the pod network; each node leases one ``SubnetLen`` block of it, between
``SubnetMin`` and ``SubnetMax``. As upstream: without ``SubnetLen`` a network of /22 or
larger is cut into /24s (a smaller one into four); the first block (``10.244.0.0/24``) is
never handed out, since ``10.244.0.0`` is the network's own address; field names match
case-insensitively, as Go's ``encoding/json`` does. A bad config is refused with a
``ConfigError`` naming the field.

What real Kubernetes does differently: with ``--kube-subnet-mgr`` flannel reads the same
JSON from a ConfigMap (``net-conf.json``) and takes each node's subnet from
``node.spec.podCIDR`` (allocated by the controller manager); it also knows IPv6 and
dual-stack (``EnableIPv6``, ``IPv6Network``), which kfs refuses.
"""
import ipaddress
import json
from dataclasses import dataclass, field

BACKENDS = ("vxlan", "host-gw")


class ConfigError(ValueError):
    """The network config in etcd is missing or wrong; the message says what to fix."""


@dataclass(frozen=True)
class Config:
    network: ipaddress.IPv4Network
    subnet_len: int
    subnet_min: ipaddress.IPv4Address
    subnet_max: ipaddress.IPv4Address
    backend_type: str
    backend: dict = field(default_factory=dict)   # the Backend object, Type included

    def contains(self, subnet):
        """Is `subnet` (an IPv4Network) one this config could have handed out?"""
        return (subnet.prefixlen == self.subnet_len
                and self.subnet_min <= subnet.network_address <= self.subnet_max)


def fields(obj):
    """A JSON object's keys folded to lower case (Go matches field names that way)."""
    return {str(k).lower(): v for k, v in obj.items()}


def parse_config(text):
    """The `Config` in `text` (the value of ``<prefix>/config``), or ConfigError."""
    try:
        raw = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"the network config is not JSON ({e}): {text[:80]!r}") from None
    if not isinstance(raw, dict):
        raise ConfigError("the network config must be a JSON object, e.g. "
                          '{"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}')
    f = fields(raw)
    if f.get("enableipv6") or f.get("ipv6network") or f.get("enableipv4") is False:
        raise ConfigError("EnableIPv6/IPv6Network: kfs flanneld handles IPv4 only")
    network = _network(f.get("network"))
    subnet_len = _subnet_len(network, f.get("subnetlen"))
    size = 1 << (32 - subnet_len)
    first, last = network.network_address, network.broadcast_address
    subnet_min = _bound(f, "SubnetMin", network, subnet_len, first + size)
    subnet_max = _bound(f, "SubnetMax", network, subnet_len, last + 1 - size)
    backend_type, backend = _backend(f.get("backend"))
    return Config(network, subnet_len, subnet_min, subnet_max, backend_type, backend)


def _network(value):
    if not value:
        raise ConfigError('Network: missing; give the pod network, e.g. "10.244.0.0/16"')
    try:
        network = ipaddress.IPv4Network(str(value))
    except ValueError as e:
        raise ConfigError(f"Network: {value!r} is not an IPv4 network ({e})") from None
    return network


def _subnet_len(network, value):
    if value in (None, 0):
        if network.prefixlen > 28:
            raise ConfigError(f"Network: {network} is too small; the smallest is a /28")
        return 24 if network.prefixlen <= 22 else network.prefixlen + 2
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"SubnetLen: {value!r} is not a number")
    if value > 30:
        raise ConfigError(f"SubnetLen: {value} leaves no room for pods; use /30 or larger")
    if value < network.prefixlen + 2:
        raise ConfigError(f"SubnetLen: {network} must hold at least four /{value} subnets")
    return value


def _bound(f, name, network, subnet_len, default):
    value = f.get(name.lower())
    if not value:
        return default
    try:
        address = ipaddress.IPv4Address(str(value))
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not an IPv4 address") from None
    if address not in network:
        raise ConfigError(f"{name}: {address} is not in the Network {network}")
    if int(address) % (1 << (32 - subnet_len)):
        raise ConfigError(f"{name}: {address} is not on a /{subnet_len} boundary")
    return address


def _backend(value):
    if not value:
        raise ConfigError('Backend: missing (upstream would pick "udp", which kfs does not '
                          f'have); give one of {", ".join(BACKENDS)}: '
                          '"Backend": {"Type": "vxlan"}')
    if not isinstance(value, dict):
        raise ConfigError(f"Backend: must be an object such as {{\"Type\": \"vxlan\"}}, "
                          f"not {value!r}")
    backend_type = fields(value).get("type")
    if backend_type not in BACKENDS:
        raise ConfigError(f"Backend.Type: {backend_type!r} is not a backend kfs flanneld "
                          f"has; use one of {', '.join(BACKENDS)}")
    return backend_type, value
