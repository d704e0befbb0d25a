"""Subnet keys in etcd, and ``subnet.env``: how flanneld tells Docker its subnet.

Mirrors ``pkg/subnet/subnet.go`` (``MakeSubnetKey``, ``ParseSubnetKey``,
``WriteSubnetFile``) and ``main.go``'s ``ReadCIDRFromSubnetFile``.

A lease lives at ``<prefix>/subnets/10.244.1.0-24``: the subnet with its "/" turned into
"-". Once it has a lease, flanneld writes the subnet file (``/run/flannel/subnet.env``)::

    FLANNEL_NETWORK=10.244.0.0/16
    FLANNEL_SUBNET=10.244.1.1/24
    FLANNEL_MTU=1450
    FLANNEL_IPMASQ=true

``FLANNEL_SUBNET`` is the subnet's first usable address with the subnet's length: exactly
what Docker's ``--bip`` wants (the bridge ``docker0`` gets 10.244.1.1, containers the rest
of 10.244.1.0/24). ``FLANNEL_MTU`` is what a container's interface may carry once the
backend has taken its overhead; ``FLANNEL_IPMASQ`` says flanneld masquerades, so Docker
should not (``--ip-masq=false``). The file is written to a temporary name and renamed, so
a reader never sees half of it. At start, flanneld reads its previous ``FLANNEL_SUBNET``
back from the file and asks for that subnet again.

What real Kubernetes does differently: the flannel CNI plugin reads subnet.env for every
pod sandbox and hands the bridge plugin the subnet, instead of Docker's ``--bip``; keys of
a dual-stack lease carry the IPv6 subnet too (``10.244.1.0-24&fd00:0:0:1::-64``).
"""
import ipaddress
import os
import re
from pathlib import Path

SUBNET_KEY = re.compile(r"(\d+\.\d+\.\d+\.\d+)-(\d+)(?:&[0-9a-f:]+-\d+)?$")


def make_subnet_key(subnet):
    """``10.244.1.0/24`` -> ``10.244.1.0-24``."""
    subnet = ipaddress.IPv4Network(subnet)
    return f"{subnet.network_address}-{subnet.prefixlen}"


def parse_subnet_key(key):
    """The subnet at the end of an etcd key, or None if the key names none."""
    m = SUBNET_KEY.search(key)
    if not m:
        return None
    try:
        return ipaddress.IPv4Network(f"{m[1]}/{m[2]}")
    except ValueError:
        return None


def subnet_file_text(network, subnet, mtu, ip_masq):
    subnet = ipaddress.IPv4Network(subnet)
    first = subnet.network_address + 1
    return (f"FLANNEL_NETWORK={network}\nFLANNEL_SUBNET={first}/{subnet.prefixlen}\n"
            f"FLANNEL_MTU={mtu}\nFLANNEL_IPMASQ={'true' if ip_masq else 'false'}\n")


def write_subnet_file(path, network, subnet, mtu, ip_masq):
    """Write ``subnet.env`` atomically (mode 0644, its directory made if missing)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(subnet_file_text(network, subnet, mtu, ip_masq))
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def read_subnet_file(path):
    """``KEY=VALUE`` lines as a dict ({} if there is no file); quotes and comments go."""
    try:
        return parse_subnet_env(Path(path).read_text())
    except OSError:
        return {}


def parse_subnet_env(text):
    """The ``KEY=VALUE`` lines of a subnet.env's text as a dict."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def read_cidr(path, key):
    """A network from the subnet file (``FLANNEL_SUBNET=10.244.1.1/24`` -> 10.244.1.0/24),
    or None if the file, the key or a valid value is missing."""
    value = read_subnet_file(path).get(key)
    if not value or "," in value:
        return None
    try:
        return ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        return None
