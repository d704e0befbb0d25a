"""The endpoints controller: each Service's pod addresses, in an Endpoints object of its name.

Mirrors ``pkg/controller/endpoint/endpoints_controller.go`` (``syncService``) and
``pkg/api/v1/endpoints/util.go`` (``RepackSubsets``). ``reconcile("ns/name")``:

1. the Service is gone: delete its Endpoints; it has no selector (or is ExternalName):
   leave its Endpoints to whoever writes them;
2. for every pod the selector matches that has an IP, is not finished and not being
   deleted: an address ``{ip, nodeName, targetRef}``, under ``addresses`` if the pod is
   Ready (or the Service publishes not-ready addresses), else ``notReadyAddresses``;
3. for every Service port, the pod's port: ``targetPort`` as a number, or as the name of
   a container port (pods lacking that named port are left out of that port);
4. repack: addresses offering the same ports share one subset; write the Endpoints only
   if they changed. kube-proxy turns them into iptables rules.

Handlers: a Service's changes enqueue it; a pod's changes enqueue every Service selecting
it (before or after a label change); a deleted Endpoints enqueues its Service, to rewrite it.

What real Kubernetes does differently: EndpointSlices (the endpointslice controller, what
kube-proxy actually reads today) split large services into slices of 100 with topology
hints; Endpoints are capped at 1000 addresses (``endpoints.kubernetes.io/over-capacity``);
a trigger-time annotation feeds latency metrics; pod updates that change nothing relevant
are filtered before enqueueing.
"""
import copy
import logging

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.manager import Controller

log = logging.getLogger("kfs.controllers.endpoints")

HEADLESS_LABEL = "service.kubernetes.io/headless"


class EndpointsController(Controller):
    name = "endpoint"

    def __init__(self, client, informers, recorder=None, workers=5):
        super().__init__(client, informers, recorder)
        self.workers = workers
        self.svc_informer = informers["services"].add_handler(self.on_service)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)
        self.ep_informer = informers["endpoints"].add_handler(self.on_endpoints)

    # -- handlers -------------------------------------------------------------------------

    def on_service(self, kind, svc, old):
        self.enqueue(svc)

    def on_endpoints(self, kind, ep, old):
        if kind == "DELETED":
            self.enqueue(ep)

    def on_pod(self, kind, pod, old):
        for svc in services_selecting(self.svc_informer, pod, old):
            self.enqueue(svc)

    # -- the sync -------------------------------------------------------------------------

    def reconcile(self, key):
        ns, name = meta.split_key(key)
        svc = self.svc_informer.get(key)
        if svc is None:
            try:
                self.client.delete("endpoints", name, ns)
            except ApiError as e:
                if not e.not_found:
                    raise
            return None
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("selector") is None:
            return None
        pods = self.pod_informer.list(namespace=ns)
        subsets = endpoint_subsets(svc, pods)
        labels = dict(meta.labels(svc))
        if spec.get("clusterIP") == "None":
            labels[HEADLESS_LABEL] = ""
        current = self.ep_informer.get(key)
        if current is not None and cu.semantic_equal(current.get("subsets") or [], subsets) \
                and meta.labels(current) == labels:
            return None
        if current is None:
            self.client.create({"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": name, "namespace": ns, "labels": labels},
                                "subsets": subsets})
        else:
            ep = copy.deepcopy(current)
            ep["metadata"]["labels"] = labels
            ep["subsets"] = subsets
            self.client.replace(ep)
        log.info("%s: %d ready, %d not ready addresses", key,
                 sum(len(s.get("addresses", [])) for s in subsets),
                 sum(len(s.get("notReadyAddresses", [])) for s in subsets))
        return None


def services_selecting(svc_informer, *pods):
    """The Services whose selector matches any of `pods` (a pod before and after a change)."""
    for p in filter(None, pods):
        for svc in svc_informer.list(namespace=meta.namespace(p)):
            selector = svc["spec"].get("selector")
            if selector is not None and meta.selects(selector, p):
                yield svc


def should_be_in_endpoints(pod, include_terminating=False):
    """ShouldPodBeInEndpoints: an IP, not finished, and (unless asked) not terminating."""
    status = pod.get("status") or {}
    return (status.get("phase") not in ("Succeeded", "Failed") and bool(status.get("podIP"))
            and (include_terminating or not cu.being_deleted(pod)))


def endpoint_address(svc, pod):
    addr = {"ip": pod["status"]["podIP"],
            "targetRef": {"kind": "Pod", "namespace": meta.namespace(pod),
                          "name": meta.name(pod), "uid": pod["metadata"].get("uid")}}
    if pod["spec"].get("nodeName"):
        addr["nodeName"] = pod["spec"]["nodeName"]
    spec = pod["spec"]
    if spec.get("hostname") and spec.get("subdomain") == meta.name(svc):
        addr["hostname"] = spec["hostname"]
    return addr


def find_port(pod, svc_port):
    """The pod's port number for a Service port (podutil.FindPort), or None."""
    target = svc_port.get("targetPort", svc_port.get("port"))
    if isinstance(target, int) or str(target).isdigit():
        return int(target)
    protocol = svc_port.get("protocol", "TCP")
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == protocol:
                return p["containerPort"]
    return None


def resolved_ports(svc, pod):
    """(name, number, protocol) of each Service port `pod` offers; unresolvable ones left out."""
    for sp in svc["spec"].get("ports") or []:
        number = find_port(pod, sp)
        if number is not None:
            yield sp.get("name", ""), number, sp.get("protocol", "TCP")


def endpoint_subsets(svc, pods):
    """The Endpoints' subsets for `svc` over `pods` (syncService + RepackSubsets)."""
    spec = svc["spec"]
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    by_port = {}   # (name, port, protocol) or None -> {address key: (address, ready)}
    for pod in pods:
        if not meta.selects(spec.get("selector") or {}, pod) or not should_be_in_endpoints(pod):
            continue
        addr = endpoint_address(svc, pod)
        ready = publish_not_ready or cu.is_pod_ready(pod)
        ports = list(resolved_ports(svc, pod))
        if not spec.get("ports") and spec.get("clusterIP") == "None":
            ports = [None]  # headless without ports: addresses only
        for port in ports:
            by_port.setdefault(port, {})[(addr["ip"], addr["targetRef"]["uid"])] = (addr, ready)
    return repack(by_port)


def repack(by_port):
    """Group ports offered by exactly the same addresses into one subset each."""
    groups = {}
    for port, addrs in by_port.items():
        signature = frozenset((k, ready) for k, (_, ready) in addrs.items())
        group = groups.setdefault(signature, {"addrs": addrs, "ports": []})
        if port is not None:
            group["ports"].append(port)
    subsets = []
    for group in groups.values():
        ordered = [group["addrs"][k] for k in sorted(group["addrs"])]
        subset = {}
        ready = [a for a, r in ordered if r]
        not_ready = [a for a, r in ordered if not r]
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if group["ports"]:
            subset["ports"] = [_port(*p) for p in sorted(group["ports"])]
        subsets.append(subset)
    return sorted(subsets, key=lambda s: [a["ip"] for a in s.get("addresses", []) +
                                          s.get("notReadyAddresses", [])])


def _port(name, port, protocol):
    out = {"port": port, "protocol": protocol}
    if name:
        out["name"] = name
    return out
