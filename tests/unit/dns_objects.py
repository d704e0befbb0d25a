"""Services, EndpointSlices and Namespaces as the API server sends them, for the DNS tests."""
from kfs.dns.index import Index


def namespace(name):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def service(name, ns="default", cluster_ip="10.96.0.20", ports=(("http", 80, "TCP"),),
            type_="ClusterIP", external_name=None, cluster_ips=None):
    spec = {"type": type_, "ports": [{"name": n, "port": p, "protocol": proto}
                                     for n, p, proto in ports]}
    if type_ == "ExternalName":
        spec["externalName"] = external_name
    else:
        spec["clusterIP"] = cluster_ip
        spec["clusterIPs"] = cluster_ips or [cluster_ip]
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def headless(name, ns="default", ports=(("http", 80, "TCP"),)):
    return service(name, ns, cluster_ip="None", ports=ports)


def endpoint(ip, ready=True, hostname=None):
    ep = {"addresses": [ip], "conditions": {} if ready is None else {"ready": ready}}
    if hostname:
        ep["hostname"] = hostname
    return ep


def endpoint_slice(name, svc, ns="default", endpoints=(), ports=(("http", 8080, "TCP"),),
                   address_type="IPv4"):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": ns,
                         "labels": {"kubernetes.io/service-name": svc}},
            "addressType": address_type, "endpoints": list(endpoints),
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}


def synced_index(*objects, namespaces=("default",)):
    """An Index holding `objects` (and `namespaces`), marked synced as after the first lists."""
    index = Index()
    for ns in namespaces:
        index.update_namespace(namespace(ns))
    for o in objects:
        {"Service": index.update_service, "EndpointSlice": index.update_endpoints,
         "Namespace": index.update_namespace}[o["kind"]](o)
    index.synced.set()
    return index
