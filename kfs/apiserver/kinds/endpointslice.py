"""EndpointSlices (``discovery.k8s.io/v1``): a Service's endpoints in slices of at most 100.

Written by the endpointslice controller (label ``kubernetes.io/service-name``), read by
kube-proxy and ``kubectl describe service``. Defaults each port's ``name: ""`` and
``protocol: TCP``; validation of the address type (immutable), endpoints and ports.

Mirrors pkg/apis/discovery/v1/defaults.go (SetDefaults_EndpointPort),
pkg/registry/discovery/endpointslice/strategy.go, pkg/apis/discovery/validation
(ValidateEndpointSlice, ValidateEndpointSliceUpdate) and printEndpointSlice.

What real Kubernetes does differently: the strategy drops topology fields of disabled
feature gates and warns about deprecated ones; FQDN slices are rare and IPv6 ones common.
"""
import ipaddress

from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col, list_with_more
from kfs.apiserver.validation.fields import (
    IMMUTABLE, _each, dns1123_label, dns1123_subdomain, duplicate, invalid, is_ip,
    name_is_subdomain, not_supported, required, too_many)
from kfs.apiserver.validation.pods import PROTOCOLS

ADDRESS_TYPES = ["FQDN", "IPv4", "IPv6"]
MAX_SLICE_ENDPOINTS, MAX_ENDPOINT_ADDRESSES = 1000, 100
COLUMNS = [NAME, col("AddressType", description="addressType specifies the type of address carried "
                     "by this EndpointSlice."),
           col("Ports", description="ports specifies the list of network ports exposed by each "
               "endpoint in this slice."),
           col("Endpoints", description="endpoints is a list of unique endpoints in this slice."),
           AGE]


def validate_endpointslice(eps):
    """ValidateEndpointSlice, for the fields kfs uses."""
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
        elif version and (not is_ip(address) or ipaddress.ip_address(address).version != version):
            errs.append(invalid(field, address, f"must be an {address_type} address"))
    if endpoint.get("hostname"):
        errs += _each(dns1123_label(endpoint["hostname"]), f"{path}.hostname", endpoint["hostname"])
    if endpoint.get("nodeName"):
        errs += _each(name_is_subdomain(endpoint["nodeName"]), f"{path}.nodeName", endpoint["nodeName"])
    return errs


def print_endpointslice(eps, now):
    ports = [str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
             for p in eps.get("ports") or []]
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    return [meta.name(eps), eps.get("addressType", ""), list_with_more(ports),
            list_with_more(addresses), age(eps, now)]


class EndpointSlice(Kind):
    api_version, kind = "discovery.k8s.io/v1", "EndpointSlice"
    columns = COLUMNS

    def default(self, eps):
        for port in eps.get("ports") or []:  # SetDefaults_EndpointPort
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")

    def validate(self, eps):
        return validate_endpointslice(eps)

    def validate_update(self, new, old):
        if new.get("addressType") != old.get("addressType"):
            return [invalid("addressType", new.get("addressType"), IMMUTABLE)]
        return []

    def print_row(self, eps, now):
        return print_endpointslice(eps, now)


KIND = EndpointSlice
