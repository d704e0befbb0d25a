"""A pod's DNS resolver configuration: what goes into its ``/etc/resolv.conf``, per ``dnsPolicy``.

``Configurer`` is built from the kubelet's ``--cluster-dns``, ``--cluster-domain`` and
``--resolv-conf`` flags; ``get_pod_dns(pod)`` returns the pod's ``DNSConfig`` (nameservers,
search domains, options), which the runtime writes into the sandbox's resolv.conf:

- ``ClusterFirst`` (the default): the cluster DNS server as the only nameserver, the search
  path ``<ns>.svc.<domain> svc.<domain> <domain>`` followed by the machine's own search
  domains, ``options ndots:5`` (a name with fewer than five dots tries the search path
  first, so ``web`` becomes ``web.<ns>.svc.cluster.local``). A hostNetwork pod falls back
  to ``Default``; a kubelet without ``--cluster-dns`` too, with a ``MissingClusterDNS``
  warning;
- ``ClusterFirstWithHostNet``: ``ClusterFirst``, for hostNetwork pods as well;
- ``Default``: the machine's resolver, the nameservers, search and options of
  ``--resolv-conf`` (``""``: none, which means 127.0.0.1 and ``search .``);
- ``None``: nothing but the pod's ``dnsConfig``.

Every policy then appends the pod's ``dnsConfig`` (nameservers and searches without
duplicates, options merged by name) and cuts the result to the API's limits (3 nameservers,
32 search domains of at most 253 characters, 2048 characters in all), with a
``DNSConfigForming`` warning when something is cut. ``resolv_conf`` renders a config as
dockershim's ``rewriteResolvFile`` writes it.

Mirrors ``pkg/kubelet/network/dns/dns.go`` (``Configurer.GetPodDNS``, ``parseResolvConf``,
``getPodDNSType``, ``appendDNSConfig``, ``formDNSConfigFitsLimits``) and dockershim's
``rewriteResolvFile`` (``docker_sandbox.go``).

What real Kubernetes does differently: the config goes to the runtime in the CRI's
``PodSandboxConfig.DnsConfig`` and containerd writes the sandbox's resolv.conf itself;
the kubelet also checks the machine's resolv.conf against the limits at start-up
(``CheckLimitsForResolvConf``) and can be given several ``--cluster-dns`` addresses.
"""
import ipaddress
import logging
from dataclasses import dataclass, field

log = logging.getLogger("kubelet.dns")

DEFAULT_OPTIONS = ("ndots:5",)
MAX_NAMESERVERS = 3
MAX_SEARCH_PATHS, MAX_SEARCH_CHARS = 32, 2048   # ExpandedDNSConfig, on since 1.28
MAX_SEARCH_LENGTH = 253                           # a DNS-1123 subdomain's


@dataclass
class DNSConfig:
    """CRI's DNSConfig."""
    servers: list = field(default_factory=list)
    searches: list = field(default_factory=list)
    options: list = field(default_factory=list)


def parse_resolv_conf(text):
    """(nameservers, searches, options) of a resolv.conf: nameserver lines accumulate, the
    last search and options lines win, trailing dots of search domains go."""
    servers, searches, options = [], [], []
    for line in text.splitlines():
        fields = line.strip().split()
        if not fields or fields[0].startswith("#"):
            continue
        if fields[0] == "nameserver" and len(fields) >= 2:
            servers.append(fields[1])
        elif fields[0] == "search":
            searches = [s.removesuffix(".") for s in fields[1:]]
        elif fields[0] == "options":
            options = fields[1:]
    return servers, searches, options


def omit_duplicates(items):
    return list(dict.fromkeys(items))


def merge_options(existing, pod_options):
    """Options by name; the pod's ``dnsConfig.options`` overwrite the machine's."""
    merged = {}
    for op in existing:
        name, _, value = op.partition(":")
        merged[name] = value
    for op in pod_options:
        merged[op.get("name", "")] = op.get("value") or ""
    return [f"{k}:{v}" if v else k for k, v in merged.items()]


def pod_dns_type(pod):
    """"cluster", "host" or "none" (getPodDNSType)."""
    spec = pod["spec"]
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    if policy == "None":
        return "none"
    if policy == "ClusterFirstWithHostNet":
        return "cluster"
    if policy == "ClusterFirst" and not spec.get("hostNetwork"):
        return "cluster"
    if policy in ("ClusterFirst", "Default"):
        return "host"
    log.error("invalid dnsPolicy %r of pod %s: using ClusterFirst", policy,
              pod["metadata"]["name"])
    return "cluster"


class Configurer:
    """The kubelet's DNS settings (``--cluster-dns``, ``--cluster-domain``,
    ``--resolv-conf``) and the pods' resolver configurations made from them. `event` is
    the kubelet's ``recorder.event(pod, type, reason, message)``."""

    def __init__(self, cluster_dns=(), cluster_domain="", resolv_conf="/etc/resolv.conf",
                 event=None):
        self.cluster_dns = [str(ipaddress.ip_address(ip)) for ip in cluster_dns]
        self.cluster_domain = cluster_domain.strip(".")
        self.resolv_conf = resolv_conf
        self.event = event or (lambda *args: None)

    def host_dns_config(self):
        if not self.resolv_conf:
            return DNSConfig()
        with open(self.resolv_conf) as f:
            return DNSConfig(*parse_resolv_conf(f.read()))

    def cluster_searches(self, host_searches, pod):
        if not self.cluster_domain:
            return host_searches
        ns = pod["metadata"].get("namespace") or "default"
        d = self.cluster_domain
        return omit_duplicates([f"{ns}.svc.{d}", f"svc.{d}", d, *host_searches])

    def get_pod_dns(self, pod):
        """The pod's DNSConfig (GetPodDNS). OSError if --resolv-conf cannot be read."""
        config = self.host_dns_config()
        kind = pod_dns_type(pod)
        if kind == "none":
            config = DNSConfig()
        elif kind == "cluster" and self.cluster_dns:
            config = DNSConfig(list(self.cluster_dns),
                               self.cluster_searches(config.searches, pod), list(DEFAULT_OPTIONS))
        elif kind == "cluster":
            message = ('kubelet does not have ClusterDNS IP configured and cannot create Pod '
                       'using "ClusterFirst" policy. Falling back to "Default" policy.')
            self.event(pod, "Warning", "MissingClusterDNS", message)
        if kind != "none" and not self.resolv_conf and not config.servers:
            config = DNSConfig(["127.0.0.1"], ["."], [])
        extra = pod["spec"].get("dnsConfig")
        if extra:
            config = DNSConfig(omit_duplicates(config.servers + (extra.get("nameservers") or [])),
                               omit_duplicates(config.searches + (extra.get("searches") or [])),
                               merge_options(config.options, extra.get("options") or []))
        return self.fits_limits(config, pod)

    def fits_limits(self, config, pod):
        """Cut the nameservers and the search path to the limits, with a warning."""
        servers = config.servers
        if len(servers) > MAX_NAMESERVERS:
            servers = servers[:MAX_NAMESERVERS]
            self.event(pod, "Warning", "DNSConfigForming",
                       "Nameserver limits were exceeded, some nameservers have been omitted, "
                       f"the applied nameserver line is: {' '.join(servers)}")
        searches = [s for s in config.searches[:MAX_SEARCH_PATHS] if len(s) <= MAX_SEARCH_LENGTH]
        while searches and len(" ".join(searches)) > MAX_SEARCH_CHARS:
            searches.pop()
        if searches != config.searches:
            self.event(pod, "Warning", "DNSConfigForming",
                       "Search Line limits were exceeded, some search paths have been omitted, "
                       f"the applied search line is: {' '.join(searches)}")
        return DNSConfig(servers, searches, config.options)


def resolv_conf(config):
    """The text of a resolv.conf for `config` ("" if it is empty: the file is left alone)."""
    lines = [f"nameserver {s}" for s in config.servers]
    if config.searches:
        lines.append("search " + " ".join(config.searches))
    if config.options:
        lines.append("options " + " ".join(config.options))
    return "".join(line + "\n" for line in lines)
