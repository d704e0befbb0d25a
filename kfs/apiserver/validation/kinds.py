"""Validation of every other kind kfs serves: workloads, Services, Endpoints, cluster objects.

Each kind has a create rule, and some an update rule (what may not change: a Deployment's
selector, a Service's ClusterIP, a binding's roleRef, a Node's podCIDR) and a status rule
(what a status write must respect).

Mirrors pkg/apis/apps/validation/validation.go (ValidateDeploymentSpec,
ValidateReplicaSetSpec, ValidateRollingUpdateDeployment), pkg/registry/apps/*/strategy.go
(selector immutable in apps/v1), pkg/apis/core/validation/validation.go (ValidateService,
ValidateEndpoints, ValidateNode, ValidateNamespace, ValidateEvent),
pkg/apis/discovery/validation (ValidateEndpointSlice), the Service registry's NodePort range
check (portallocator), pkg/apis/coordination/validation, pkg/apis/rbac/validation and
pkg/apis/autoscaling/validation (ValidateScale).

What real Kubernetes does differently: dual-stack ClusterIP rules, load balancer fields,
session affinity timeouts, Node taints/config/status, and many more fields; an invalid
NodePort is reported by the allocator in the Service REST storage, after validation.
"""
import ipaddress

from kfs import meta
from kfs.apiserver.validation.fields import (
    IMMUTABLE, IS_NEGATIVE, Go, _each, dns1123_label, dns1123_subdomain, duplicate, forbidden,
    go_repr, invalid, label_selector_repr, label_value, name_is_dns1035, name_is_label,
    name_is_subdomain,
    non_negative, not_supported, path_segment_name, port_name, port_num, qualified_name,
    regex_error, required, too_many, validate_label_selector, validate_labels)
from kfs.apiserver.validation.pods import (
    PROTOCOLS, validate_binding, validate_pod_spec, validate_pod_status_update,
    validate_pod_template, validate_pod_update)

NODE_PORT_RANGE = (30000, 32767)
SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]
RBAC_GROUP = "rbac.authorization.k8s.io"
INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


# -- Deployments, ReplicaSets -----------------------------------------------------------------

def validate_replicaset_spec(spec, path="spec"):
    return (non_negative(spec.get("replicas", 0), f"{path}.replicas")
            + non_negative(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
            + validate_selector_and_template(spec, path))


def validate_deployment_spec(spec, path="spec"):
    errs = non_negative(spec.get("replicas", 0), f"{path}.replicas")
    errs += validate_selector_and_template(spec, path)
    errs += validate_strategy(spec.get("strategy") or {}, f"{path}.strategy")
    errs += non_negative(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        errs += non_negative(spec["revisionHistoryLimit"], f"{path}.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs += non_negative(pds, f"{path}.progressDeadlineSeconds")
        if pds <= spec.get("minReadySeconds", 0):
            errs.append(invalid(f"{path}.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


def validate_selector_and_template(spec, path):
    """A selector is required and not empty, and selects the pods its template makes."""
    sel, errs = spec.get("selector"), []
    if sel is None:
        errs.append(required(f"{path}.selector"))
    else:
        errs += validate_label_selector(sel, f"{path}.selector")
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.append(invalid(f"{path}.selector", label_selector_repr(sel), "empty selector is invalid for deployment"))
    template, tpath = spec.get("template") or {}, f"{path}.template"
    labels = (template.get("metadata") or {}).get("labels")
    if sel is None or (sel and not meta.selects(sel, template)):   # a missing selector selects nothing
        errs.append(invalid(f"{tpath}.metadata.labels", labels if labels is not None else Go(
            "map[string]string(nil)"), "`selector` does not match template `labels`"))
    errs += validate_pod_template(template, tpath)
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy is not None and policy != "Always":
        errs.append(not_supported(f"{tpath}.spec.restartPolicy", policy, ["Always"]))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{tpath}.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def validate_strategy(strategy, path):
    type_, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    if type_ == "Recreate":
        return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
                ] if rolling is not None else []
    if type_ == "RollingUpdate":
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return validate_rolling_update(rolling, f"{path}.rollingUpdate")
    ru = "(*apps.RollingUpdateDeployment)(nil)" if rolling is None else "&apps.RollingUpdateDeployment{...}"
    return [not_supported(path, Go(f"apps.DeploymentStrategy{{Type:{go_repr(type_ or '')}, RollingUpdate:{ru}}}"),
                          ["Recreate", "RollingUpdate"])]


def validate_rolling_update(rolling, path):
    errs = []
    for f in ("maxUnavailable", "maxSurge"):
        v = rolling.get(f, 0)
        if isinstance(v, str):
            if not _percent(v):
                errs.append(invalid(f"{path}.{f}", Go(v), regex_error(
                    "a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%")))
        else:
            errs += non_negative(v, f"{path}.{f}")
    mu, ms = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    if _int_or_percent(mu) == 0 and _int_or_percent(ms) == 0:
        errs.append(invalid(f"{path}.maxUnavailable", Go(str(mu)), "may not be 0 when `maxSurge` is 0"))
    if isinstance(mu, str) and _percent(mu) and int(mu[:-1]) > 100:
        errs.append(invalid(f"{path}.maxUnavailable", Go(mu), "must not be greater than 100%"))
    return errs


def _percent(v):
    return v[:-1].isdigit() and v.endswith("%")


def _int_or_percent(v):
    if isinstance(v, str):
        return int(v[:-1]) if _percent(v) else int(v) if v.isdigit() else 0
    return v


def validate_selector_immutable(new, old):
    sel, old_sel = new["spec"].get("selector"), (old.get("spec") or {}).get("selector")
    return [] if sel == old_sel else [invalid("spec.selector", label_selector_repr(sel), IMMUTABLE)]


def validate_workload_status(new, old):
    status, errs = new.get("status") or {}, []
    counters = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
                "fullyLabeledReplicas", "observedGeneration")
    for f in counters:
        errs += non_negative(status.get(f, 0), f"status.{f}")
    for f in ("updatedReplicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
        if status.get(f, 0) > status.get("replicas", 0):
            errs.append(invalid(f"status.{f}", status[f], "cannot be greater than status.replicas"))
    if status.get("availableReplicas", 0) > status.get("readyReplicas", 0):
        errs.append(invalid("status.availableReplicas", status["availableReplicas"], "cannot be greater than readyReplicas"))
    return errs


# -- Services, Endpoints ----------------------------------------------------------------------

def _cluster_ips(spec):
    return spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])


def validate_service(svc):
    spec, errs = svc.get("spec") or {}, []
    type_, ports, ips = spec.get("type"), spec.get("ports") or [], _cluster_ips(spec)
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
        if not (i == 0 and ip == "None") and not _is_ip(ip):
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
    accessible = spec.get("type") in ("NodePort", "LoadBalancer") or (
        spec.get("type") == "ClusterIP" and bool(spec.get("externalIPs")))
    if etp and not accessible:
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
    ips, old_ips = _cluster_ips(spec), _cluster_ips(old_spec)
    if ips and old_ips and ips[0] != old_ips[0]:
        return [invalid("spec.clusterIPs[0]", ips, "may not change once set")]
    return []


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def _is_cidr(text):
    try:
        return "/" in text and bool(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return False


def validate_endpoints(ep):
    errs = []
    for i, subset in enumerate(ep.get("subsets") or []):
        path = f"subsets[{i}]"
        if not subset.get("addresses") and not subset.get("notReadyAddresses"):
            errs.append(required(path, "must specify `addresses` or `notReadyAddresses`"))
        for kind in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(subset.get(kind) or []):
                errs += validate_endpoint_address(a, f"{path}.{kind}[{j}]")
        ports = subset.get("ports") or []
        for j, p in enumerate(ports):
            pp = f"{path}.ports[{j}]"
            if len(ports) > 1 and not p.get("name"):
                errs.append(required(f"{pp}.name"))
            elif p.get("name"):
                errs += _each(dns1123_label(p["name"]), f"{pp}.name", p["name"])
            errs += _each(port_num(p.get("port")), f"{pp}.port", p.get("port", 0))
            if p.get("protocol") is not None and p["protocol"] not in PROTOCOLS:
                errs.append(not_supported(f"{pp}.protocol", p["protocol"], PROTOCOLS))
    return errs


def validate_endpoint_address(address, path):
    ip = address.get("ip", "")
    if not _is_ip(ip):
        return [invalid(f"{path}.ip", ip, INVALID_IP)]
    errs, addr = [], ipaddress.ip_address(ip)
    if addr.is_unspecified:
        errs.append(invalid(f"{path}.ip", ip, f"may not be unspecified ({'0.0.0.0' if addr.version == 4 else '::'})"))
    if addr.is_loopback:
        errs.append(invalid(f"{path}.ip", ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if addr in ipaddress.ip_network("224.0.0.0/24") or (addr.version == 6 and addr in ipaddress.ip_network("ff02::/16")):
        errs.append(invalid(f"{path}.ip", ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    if addr.is_link_local and not addr.is_multicast:
        errs.append(invalid(f"{path}.ip", ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    if address.get("hostname"):
        errs += _each(dns1123_label(address["hostname"]), f"{path}.hostname", address["hostname"])
    if address.get("nodeName"):
        errs += _each(name_is_subdomain(address["nodeName"]), f"{path}.nodeName", address["nodeName"])
    return errs


ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
MAX_SLICE_ENDPOINTS, MAX_ENDPOINT_ADDRESSES = 1000, 100


def validate_endpointslice(eps):
    """pkg/apis/discovery/validation: ValidateEndpointSlice, for the fields kfs uses."""
    address_type, errs = eps.get("addressType"), []
    if not address_type:
        errs.append(required("addressType"))
    elif address_type not in ADDRESS_TYPES:
        errs.append(not_supported("addressType", address_type, ADDRESS_TYPES))
    endpoints = eps.get("endpoints") or []
    if len(endpoints) > MAX_SLICE_ENDPOINTS:
        errs.append(too_many("endpoints", len(endpoints), MAX_SLICE_ENDPOINTS))
    for i, endpoint in enumerate(endpoints[:MAX_SLICE_ENDPOINTS]):
        errs += validate_slice_endpoint(endpoint, address_type, f"endpoints[{i}]")
    names = set()
    for i, port in enumerate(eps.get("ports") or []):
        path, name = f"ports[{i}]", port.get("name") or ""
        if name:
            errs += _each(dns1123_label(name), f"{path}.name", name)
        if name in names:
            errs.append(duplicate(f"{path}.name", name))
        names.add(name)
        if port.get("protocol") not in PROTOCOLS:
            errs.append(not_supported(f"{path}.protocol", port.get("protocol"), PROTOCOLS))
        if port.get("port") is not None and not 0 <= port["port"] <= 65535:
            errs.append(invalid(f"{path}.port", port["port"], "must be between 0 and 65535, inclusive"))
    return errs


def validate_slice_endpoint(endpoint, address_type, path):
    addresses, errs = endpoint.get("addresses") or [], []
    if not addresses:
        errs.append(required(f"{path}.addresses", "must contain at least 1 address"))
    elif len(addresses) > MAX_ENDPOINT_ADDRESSES:
        errs.append(too_many(f"{path}.addresses", len(addresses), MAX_ENDPOINT_ADDRESSES))
    version = {"IPv4": 4, "IPv6": 6}.get(address_type)
    for j, address in enumerate(addresses[:MAX_ENDPOINT_ADDRESSES]):
        field = f"{path}.addresses[{j}]"
        if address_type == "FQDN":
            errs += _each(dns1123_subdomain(address), field, address)
        elif version and (not _is_ip(address) or ipaddress.ip_address(address).version != version):
            errs.append(invalid(field, address, f"must be an {address_type} address"))
    if endpoint.get("hostname"):
        errs += _each(dns1123_label(endpoint["hostname"]), f"{path}.hostname", endpoint["hostname"])
    if endpoint.get("nodeName"):
        errs += _each(name_is_subdomain(endpoint["nodeName"]), f"{path}.nodeName", endpoint["nodeName"])
    return errs


def validate_endpointslice_update(new, old):
    if new.get("addressType") != old.get("addressType"):
        return [invalid("addressType", new.get("addressType"), IMMUTABLE)]
    return []


# -- Nodes, Namespaces, Leases, Events --------------------------------------------------------

def validate_node(node):
    spec, errs = node.get("spec") or {}, []
    for i, cidr in enumerate(spec.get("podCIDRs") or []):
        if not _is_cidr(cidr):
            errs.append(invalid(f"spec.podCIDRs[{i}]", cidr, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    for i, t in enumerate(spec.get("taints") or []):
        p = f"spec.taints[{i}]"
        errs += _each(qualified_name(t.get("key", "")), f"{p}.key", t.get("key", ""))
        errs += _each(label_value(t["value"]), f"{p}.value", t["value"]) if t.get("value") else []
        effects = ["NoSchedule", "PreferNoSchedule", "NoExecute"]
        if not t.get("effect"):
            errs.append(required(f"{p}.effect"))
        elif t["effect"] not in effects:
            errs.append(not_supported(f"{p}.effect", t["effect"], effects))
    return errs


def validate_node_update(new, old):
    old_cidrs, cidrs = (old.get("spec") or {}).get("podCIDRs"), (new.get("spec") or {}).get("podCIDRs")
    if old_cidrs and cidrs != old_cidrs:
        return [forbidden("spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid')]
    return []


def validate_lease(lease):
    spec, errs = lease.get("spec") or {}, []
    if spec.get("leaseDurationSeconds") is not None and spec["leaseDurationSeconds"] <= 0:
        errs.append(invalid("spec.leaseDurationSeconds", spec["leaseDurationSeconds"], "must be greater than 0"))
    if spec.get("leaseTransitions") is not None and spec["leaseTransitions"] < 0:
        errs.append(invalid("spec.leaseTransitions", spec["leaseTransitions"], IS_NEGATIVE))
    return errs


def validate_event(event):
    """legacyValidateEvent: an old-style Event lives in its involved object's namespace."""
    ns = (event.get("metadata") or {}).get("namespace", "")
    involved = (event.get("involvedObject") or {}).get("namespace", "")
    if event.get("eventTime"):
        return []
    if (involved and involved != ns) or (not involved and ns not in ("", "default")):
        return [invalid("involvedObject.namespace", involved, "does not match event.namespace")]
    return []


# -- RBAC, Scale ----------------------------------------------------------------------------

def validate_role(role):
    namespaced = role.get("kind") == "Role"
    errs = []
    for i, rule in enumerate(role.get("rules") or []):
        p = f"rules[{i}]"
        if not rule.get("verbs"):
            errs.append(required(f"{p}.verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                errs.append(invalid(f"{p}.nonResourceURLs", rule["nonResourceURLs"],
                                    "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                errs.append(invalid(f"{p}.nonResourceURLs", rule["nonResourceURLs"],
                                    "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            errs.append(required(f"{p}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            errs.append(required(f"{p}.resources", "resource rules must supply at least one resource"))
    return errs


def validate_role_binding(binding):
    namespaced = binding.get("kind") == "RoleBinding"
    ref, errs = binding.get("roleRef") or {}, []
    if ref.get("apiGroup") != RBAC_GROUP:
        errs.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [RBAC_GROUP]))
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("kind") not in kinds:
        errs.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        errs.append(required("roleRef.name"))
    else:
        errs += _each(path_segment_name(ref["name"]), "roleRef.name", ref["name"])
    for i, s in enumerate(binding.get("subjects") or []):
        errs += validate_subject(s, namespaced, f"subjects[{i}]")
    return errs


def validate_subject(s, namespaced, path):
    errs = [] if s.get("name") else [required(f"{path}.name")]
    kind, group = s.get("kind"), s.get("apiGroup", "")
    if kind == "ServiceAccount":
        if s.get("name"):
            errs += _each(name_is_subdomain(s["name"]), f"{path}.name", s["name"])
        if group:
            errs.append(not_supported(f"{path}.apiGroup", group, [""]))
        if not namespaced and not s.get("namespace"):
            errs.append(required(f"{path}.namespace"))
    elif kind in ("User", "Group"):
        if group != RBAC_GROUP:
            errs.append(not_supported(f"{path}.apiGroup", group, [RBAC_GROUP]))
    else:
        errs.append(not_supported(f"{path}.kind", kind or "", ["ServiceAccount", "User", "Group"]))
    return errs


def validate_role_binding_update(new, old):
    ref = new.get("roleRef") or {}
    if ref == (old.get("roleRef") or {}):
        return []
    return [invalid("roleRef", Go(f'rbac.RoleRef{{APIGroup:{go_repr(ref.get("apiGroup", ""))}, '
                                  f'Kind:{go_repr(ref.get("kind", ""))}, Name:{go_repr(ref.get("name", ""))}}}'),
                    "cannot change roleRef")]


def validate_scale(scale):
    return non_negative((scale.get("spec") or {}).get("replicas", 0), "spec.replicas")


def _spec(check):
    return lambda obj: check(obj.get("spec") or {})


def _nothing(obj):
    return []


# (apiVersion, kind) -> (name rule or None for no metadata checks, namespaced, check)
KIND_RULES = {
    ("v1", "Pod"): (name_is_subdomain, True, _spec(validate_pod_spec)),
    ("v1", "Service"): (name_is_dns1035, True, validate_service),
    ("v1", "Endpoints"): (name_is_subdomain, True, validate_endpoints),
    ("v1", "Event"): (name_is_subdomain, True, validate_event),
    ("v1", "Node"): (name_is_subdomain, False, validate_node),
    ("v1", "Namespace"): (name_is_label, False, _nothing),
    ("v1", "Binding"): (None, True, validate_binding),
    ("apps/v1", "Deployment"): (name_is_subdomain, True, _spec(validate_deployment_spec)),
    ("apps/v1", "ReplicaSet"): (name_is_subdomain, True, _spec(validate_replicaset_spec)),
    ("autoscaling/v1", "Scale"): (name_is_subdomain, True, validate_scale),
    ("coordination.k8s.io/v1", "Lease"): (name_is_subdomain, True, validate_lease),
    ("discovery.k8s.io/v1", "EndpointSlice"): (name_is_subdomain, True, validate_endpointslice),
    (f"{RBAC_GROUP}/v1", "Role"): (path_segment_name, True, validate_role),
    (f"{RBAC_GROUP}/v1", "ClusterRole"): (path_segment_name, False, validate_role),
    (f"{RBAC_GROUP}/v1", "RoleBinding"): (path_segment_name, True, validate_role_binding),
    (f"{RBAC_GROUP}/v1", "ClusterRoleBinding"): (path_segment_name, False, validate_role_binding),
}
UPDATE_RULES = {
    ("v1", "Pod"): validate_pod_update,
    ("v1", "Service"): validate_service_update,
    ("v1", "Node"): validate_node_update,
    ("discovery.k8s.io/v1", "EndpointSlice"): validate_endpointslice_update,
    ("apps/v1", "Deployment"): validate_selector_immutable,
    ("apps/v1", "ReplicaSet"): validate_selector_immutable,
    (f"{RBAC_GROUP}/v1", "RoleBinding"): validate_role_binding_update,
    (f"{RBAC_GROUP}/v1", "ClusterRoleBinding"): validate_role_binding_update,
}
STATUS_RULES = {
    ("v1", "Pod"): validate_pod_status_update,
    ("apps/v1", "Deployment"): validate_workload_status,
    ("apps/v1", "ReplicaSet"): validate_workload_status,
}
