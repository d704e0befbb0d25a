"""Endpoints (``v1``): the ready (and not-ready) addresses of a Service's pods, in subsets.

Written by the endpoints controller (one object per Service, same name); read by kubectl
and, in older clusters, kube-proxy. Defaults ``protocol: TCP`` on each port; validation of
addresses (no loopback, link-local or multicast IPs) and ports; a PUT of a missing object
creates it, as upstream allows for this kind.

Mirrors pkg/apis/core/v1/defaults.go (SetDefaults_EndpointPort), pkg/registry/core/endpoint
(strategy.go: AllowCreateOnUpdate), pkg/apis/core/validation (ValidateEndpoints,
validateEndpointAddress) and printEndpoints.

What real Kubernetes does differently: Endpoints are deprecated since 1.33 in favour of
EndpointSlices (``kinds/endpointslice.py``), and upstream truncates them at 1,000 addresses.
"""
import ipaddress

from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col, list_with_more
from kfs.apiserver.validation.fields import (
    INVALID_IP, _each, dns1123_label, invalid, is_ip, name_is_subdomain, not_supported, port_num,
    required)
from kfs.apiserver.validation.pods import PROTOCOLS

COLUMNS = [NAME, col("Endpoints", description="The set of all endpoints is the union of all subsets."), AGE]


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
    if not is_ip(ip):
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


def print_endpoints(ep, now):
    shown = []
    for subset in ep.get("subsets") or []:
        for port in subset.get("ports") or [None]:
            for a in subset.get("addresses") or []:
                ip = a.get("ip", "")
                host = f"[{ip}]" if ":" in ip else ip
                shown.append(f"{host}:{port.get('port')}" if port else ip)
    text = list_with_more(shown, empty="")
    return [meta.name(ep), text if ep.get("subsets") else "<none>", age(ep, now)]


class Endpoints(Kind):
    api_version, kind = "v1", "Endpoints"
    columns = COLUMNS
    create_on_update = True

    def default(self, ep):
        for subset in ep.get("subsets") or []:
            for port in subset.get("ports") or []:
                port.setdefault("protocol", "TCP")

    def validate(self, ep):
        return validate_endpoints(ep)

    def print_row(self, ep, now):
        return print_endpoints(ep, now)


KIND = Endpoints
