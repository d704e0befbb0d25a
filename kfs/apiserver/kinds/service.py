"""Services (``v1``): a stable virtual address (and NodePorts) in front of a set of pods.

- **defaults**: ``type: ClusterIP``, ``sessionAffinity: None`` (ClientIP gets a 3 h
  timeout), ``protocol: TCP`` and ``targetPort`` = ``port`` on each port, the traffic
  policies ``Cluster``; ClusterIPs, NodePorts and ``ipFamilies`` are *allocated*, not
  defaulted (below);
- **create and update** keep ``clusterIP`` and ``clusterIPs[0]`` saying the same thing,
  and an update that leaves out the allocated ClusterIP or NodePorts (``kubectl apply`` of
  a manifest without them) keeps them;
- **validation**: ports (names required when there are several, unique), types, the
  NodePort range, ExternalName, traffic policies; the ClusterIP may never change;
- **storage**: every create claims a ClusterIP from ``--service-cluster-ip-range`` and
  NodePorts from ``--service-node-port-range`` (``kfs.apiserver.allocator``), released
  when the write fails, when an update stops using them, and on delete;
- **printing**: ``TYPE CLUSTER-IP EXTERNAL-IP PORT(S)`` — ``80:30080/TCP``, ``<pending>``.

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_Service), pkg/registry/core/service
(strategy.go: PrepareForCreate/Update, NormalizeClusterIPs, patchAllocatedValues;
storage/alloc.go: the allocation around the write), pkg/apis/core/validation
(ValidateService, ValidateServiceUpdate) and printService.

What real Kubernetes does differently: dual-stack rules (a family per ClusterIP),
``loadBalancerClass``, ``loadBalancerSourceRanges`` and many more checks; an invalid NodePort
is reported by the allocator after validation (here: validation first, then the allocator).
"""
import copy

from kfs import meta
from kfs.apiserver.allocator import Allocator
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import (
    INVALID_IP, Go, _each, dns1123_label, duplicate, forbidden, go_repr, invalid, is_ip,
    name_is_dns1035, name_is_subdomain, not_supported, port_name, port_num, required,
    validate_labels)
from kfs.apiserver.validation.pods import PROTOCOLS

NODE_PORT_RANGE = (30000, 32767)
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
COLUMNS = [NAME, col("Type", description="type determines how the Service is exposed."),
           col("Cluster-IP", description="clusterIP is the IP address of the service."),
           col("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
               "cluster will also accept traffic for this service."),
           col("Port(s)", description="The list of ports that are exposed by this service."), AGE,
           col("Selector", description="Route service traffic to pods with label keys and values "
               "matching this selector.", priority=1)]


def externally_accessible(spec):
    """``service.ExternallyAccessible``: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    return spec.get("type") in ("NodePort", "LoadBalancer") or (
        spec.get("type") == "ClusterIP" and bool(spec.get("externalIPs")))


def normalize_cluster_ips(spec):
    """NormalizeClusterIPs: ``clusterIP`` and ``clusterIPs[0]`` say the same thing."""
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    elif spec.get("clusterIPs") and not spec.get("clusterIP"):
        spec["clusterIP"] = spec["clusterIPs"][0]


def keep_allocated_values(spec, old_spec):
    """patchAllocatedValues: ``kubectl apply`` of a manifest without clusterIP/nodePort."""
    if spec.get("type", "ClusterIP") != "ExternalName" and old_spec.get("type") != "ExternalName" \
            and not spec.get("clusterIP") and not spec.get("clusterIPs"):
        for f in ("clusterIP", "clusterIPs"):
            if old_spec.get(f):
                spec[f] = copy.deepcopy(old_spec[f])
    needs = ("NodePort", "LoadBalancer")
    if spec.get("type") in needs and old_spec.get("type") in needs \
            and not any(p.get("nodePort") for p in spec.get("ports") or []):
        by_name = {p.get("name", ""): p.get("nodePort") for p in old_spec.get("ports") or []}
        for p in spec.get("ports") or []:
            if by_name.get(p.get("name", "")):
                p["nodePort"] = by_name[p.get("name", "")]
    if old_spec.get("healthCheckNodePort") and not spec.get("healthCheckNodePort"):
        spec["healthCheckNodePort"] = old_spec["healthCheckNodePort"]


# -- validation (ValidateService) -----------------------------------------------------------

def cluster_ips(spec):
    return spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])


def validate_service(svc):
    spec, errs = svc.get("spec") or {}, []
    type_, ports, ips = spec.get("type"), spec.get("ports") or [], cluster_ips(spec)
    headless = type_ == "ClusterIP" and ips == ["None"]
    if not ports and not headless and type_ != "ExternalName":
        errs.append(required("spec.ports"))
    if type_ in ("NodePort", "LoadBalancer") and ips[:1] == ["None"]:
        errs.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {type_} services"))
    if type_ == "ExternalName":
        if ips:
            errs.append(forbidden("spec.clusterIPs", "may not be set for ExternalName services"))
        cname = (spec.get("externalName") or "").rstrip(".")
        errs += _each(name_is_subdomain(cname), "spec.externalName", cname) if cname else [required("spec.externalName")]
    names = set()
    for i, p in enumerate(ports):
        errs += validate_service_port(p, len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += validate_labels(spec["selector"], "spec.selector")
    affinity = spec.get("sessionAffinity")
    if affinity is not None and affinity not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    if spec.get("clusterIP") and spec.get("clusterIPs") and spec["clusterIPs"][0] != spec["clusterIP"]:
        errs.append(invalid("spec.clusterIPs", spec["clusterIPs"], "first value must match `clusterIP`"))
    for i, ip in enumerate(ips):
        if not (i == 0 and ip == "None") and not is_ip(ip):
            errs.append(invalid(f"spec.clusterIPs[{i}]", ip, INVALID_IP))
    if type_ is not None and type_ not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", type_, SERVICE_TYPES))
    errs += validate_node_ports(spec)
    errs += validate_traffic_policies(spec)
    return errs


def validate_service_port(port, require_name, names, path):
    errs, name = [], port.get("name")
    if require_name and not name:
        errs.append(required(f"{path}.name"))
    elif name:
        errs += _each(dns1123_label(name), f"{path}.name", name)
        errs += [duplicate(f"{path}.name", name)] if name in names else []
        names.add(name)
    errs += _each(port_num(port.get("port")), f"{path}.port", port.get("port", 0))
    proto = port.get("protocol")
    if proto is not None and proto not in PROTOCOLS:
        errs.append(required(f"{path}.protocol") if not proto else not_supported(f"{path}.protocol", proto, PROTOCOLS))
    target = port.get("targetPort")
    if isinstance(target, str):
        errs += _each(port_name(target), f"{path}.targetPort", target)
    elif target is not None:
        errs += _each(port_num(target), f"{path}.targetPort", target)
    return errs


def validate_node_ports(spec):
    errs, seen, keys = [], set(), set()
    low, high = NODE_PORT_RANGE
    for i, p in enumerate(spec.get("ports") or []):
        np, path = p.get("nodePort"), f"spec.ports[{i}]"
        if np and spec.get("type") == "ClusterIP":
            errs.append(forbidden(f"{path}.nodePort", "may not be used when `type` is 'ClusterIP'"))
        elif np and not low <= np <= high:
            errs.append(invalid(f"{path}.nodePort", np, "provided port is not in the valid range. "
                                f"The range of valid ports is {low}-{high}"))
        if np and (p.get("protocol"), np) in seen:
            errs.append(duplicate(f"{path}.nodePort", np))
        seen.add((p.get("protocol"), np))
        key = (p.get("protocol", "TCP"), p.get("port"))
        if key in keys:
            errs.append(duplicate(path, Go(
                f'core.ServicePort{{Name:"", Protocol:{go_repr(key[0])}, AppProtocol:(*string)(nil), Port:{key[1]}, '
                'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}')))
        keys.add(key)
    return errs


def validate_traffic_policies(spec):
    errs, etp = [], spec.get("externalTrafficPolicy")
    if etp and not externally_accessible(spec):
        errs.append(invalid("spec.externalTrafficPolicy", etp, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
    elif etp and etp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.externalTrafficPolicy", etp, ["Cluster", "Local"]))
    itp = spec.get("internalTrafficPolicy")
    if itp is not None and itp not in ("Cluster", "Local"):
        errs.append(not_supported("spec.internalTrafficPolicy", itp, ["Cluster", "Local"]))
    return errs


def validate_service_update(new, old):
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if "ExternalName" in (spec.get("type"), old_spec.get("type")):
        return []
    ips, old_ips = cluster_ips(spec), cluster_ips(old_spec)
    if ips and old_ips and ips[0] != old_ips[0]:
        return [invalid("spec.clusterIPs[0]", ips, "may not change once set")]
    return []


# -- printing (printService) ------------------------------------------------------------------

def print_service(svc, now):
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    ips = cluster_ips(spec)
    ports = ",".join(f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
                     else f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [meta.name(svc), spec.get("type", ""), ips[0] if ips else "<none>", external_ip(spec, status),
            ports or "<none>", age(svc, now), selector or "<none>"]


def external_ip(spec, status):
    type_, external = spec.get("type"), spec.get("externalIPs") or []
    if type_ in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if type_ == "LoadBalancer":
        ingress = sorted({i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get(
            "ingress") or [] if i.get("ip") or i.get("hostname")})
        return ",".join(ingress + external) or "<pending>"
    if type_ == "ExternalName":
        return spec.get("externalName", "")
    return "<unknown>"


class Service(Kind):
    api_version, kind = "v1", "Service"
    name_rule = staticmethod(name_is_dns1035)
    columns = COLUMNS
    returns_deleted = True

    def __init__(self, server=None):
        super().__init__(server)
        self.allocator = Allocator(server.storage, server.service_cidr, server.node_ports) \
            if server else None

    def default(self, svc):
        spec = svc.setdefault("spec", {})
        spec.setdefault("sessionAffinity", "None")
        if spec["sessionAffinity"] == "None":
            spec.pop("sessionAffinityConfig", None)
        elif spec["sessionAffinity"] == "ClientIP":
            client_ip = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
            client_ip.setdefault("timeoutSeconds", 10800)
        spec.setdefault("type", "ClusterIP")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
        if externally_accessible(spec):
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if spec["type"] == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)

    def prepare_for_create(self, svc):
        svc["status"] = {"loadBalancer": {}}
        normalize_cluster_ips(svc.setdefault("spec", {}))

    def prepare_for_update(self, new, old):
        keep_allocated_values(new.setdefault("spec", {}), old.get("spec") or {})
        normalize_cluster_ips(new["spec"])

    def validate(self, svc):
        return validate_service(svc)

    def validate_update(self, new, old):
        return validate_service_update(new, old)

    def print_row(self, svc, now):
        return print_service(svc, now)

    # -- storage: the allocations around each write (storage/alloc.go) -------------------------

    def before_create(self, registry, svc, dry_run):
        if dry_run:
            return None
        claimed = self.allocator.allocate(svc)
        return lambda: self.allocator.release(*claimed)

    def before_update(self, registry, new, old, subresource, dry_run):
        if subresource is None and not dry_run:
            self.allocator.allocate(new, old)

    def after_update(self, registry, new, old):
        self.allocator.release_unused(new, old)

    def after_delete(self, registry, svc):
        self.allocator.release_unused(None, svc)


KIND = Service
