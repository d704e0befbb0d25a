"""The endpointslice controller: each Service's pod addresses, in EndpointSlices.

Mirrors ``pkg/controller/endpointslice/endpointslice_controller.go`` (``syncService``) and
``staging/src/k8s.io/endpointslice/reconciler.go`` (``reconcile``), shrunk. The same
question as the endpoints controller (which pods does the Service select, and are they
ready?) with a newer answer: instead of one Endpoints object per Service, a set of
``discovery.k8s.io/v1`` EndpointSlices labelled ``kubernetes.io/service-name``, each holding
at most 100 endpoints that share one list of ports. It is what kube-proxy reads today, and
what ``kubectl describe service`` prints as ``Endpoints:``.

``reconcile("ns/name")``:

1. the Service is gone: nothing to do (its slices name it as their owner, so the garbage
   collector deletes them); it has no selector: leave its slices to whoever writes them;
2. the cache still lacks a slice this controller wrote (or still shows one it deleted):
   try again shortly, rather than create a duplicate from stale knowledge (upstream's
   ``EndpointSliceTracker``);
3. one endpoint per selected pod with an IP that has not finished, terminating pods
   included: ``conditions`` say whether it is ``ready`` (Ready, not terminating),
   ``serving`` (Ready) and ``terminating``; its ports are the Service's ports resolved
   on that pod (a named ``targetPort`` is looked up in the pod's container ports);
4. endpoints with the same address type and ports are packed, sorted, 100 to a slice;
   existing slices with those ports are reused and updated only if they differ, the
   rest are created (``generateName: <service>-``) or deleted. A Service without
   endpoints keeps one empty placeholder slice, as upstream does. Each slice written
   carries ``endpoints.kubernetes.io/last-change-trigger-time``, the time of the change
   it reflects (``trigger_time_tracker``), from which kube-proxy measures its network
   programming latency.

What real Kubernetes does differently: the reconciler minimises churn (it fills the
emptiest existing slice and only repacks when slices fall below a fill ratio), endpoints
carry the node's zone and topology hints, dual-stack Services get one set of slices per
IP family, slices are batched and rate-limited on pod churn, and a separate
endpointslicemirroring controller copies hand-written Endpoints into slices.
"""
import copy
import logging

from kfs import meta
from kfs.client import ApiError
from kfs.controllers import controller_utils as cu
from kfs.controllers.endpoints import (HEADLESS_LABEL, endpoint_address, resolved_ports,
                                      services_selecting, should_be_in_endpoints)
from kfs.controllers.manager import Controller
from kfs.controllers.trigger_time_tracker import ANNOTATION as TRIGGER_TIME_ANNOTATION
from kfs.controllers.trigger_time_tracker import TriggerTimeTracker

log = logging.getLogger("kfs.controllers.endpointslice")

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
MANAGED_BY = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100   # --max-endpoints-per-slice
STALE_RETRY = 0.2               # seconds before looking at a lagging cache again


class EndpointSliceController(Controller):
    name = "endpointslice"

    def __init__(self, client, informers, recorder=None, workers=5,
                 max_endpoints_per_slice=MAX_ENDPOINTS_PER_SLICE):
        super().__init__(client, informers, recorder)
        self.workers, self.max_per_slice = workers, max_endpoints_per_slice
        self.written = {}   # service key -> {slice name: resourceVersion written, None: deleted}
        self.trigger_time_tracker = TriggerTimeTracker()
        self.svc_informer = informers["services"].add_handler(self.on_service)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)
        self.slice_informer = informers["endpointslices"].add_handler(self.on_slice)

    # -- handlers -------------------------------------------------------------------------

    def on_service(self, kind, svc, old):
        self.enqueue(svc)

    def on_slice(self, kind, eps, old):
        if meta.labels(eps).get(MANAGED_BY_LABEL) == MANAGED_BY and service_name(eps):
            self.enqueue(f"{meta.namespace(eps)}/{service_name(eps)}")

    def on_pod(self, kind, pod, old):
        for svc in services_selecting(self.svc_informer, pod, old):
            self.enqueue(svc)

    # -- the sync -------------------------------------------------------------------------

    def reconcile(self, key):
        svc = self.svc_informer.get(key)
        spec = (svc or {}).get("spec") or {}
        if svc is None or spec.get("type") == "ExternalName" or spec.get("selector") is None:
            self.written.pop(key, None)
            self.trigger_time_tracker.delete_service(*meta.split_key(key))
            return None
        if self.cache_is_stale(key):
            self.queue.add_after(key, STALE_RETRY)
            return None
        pods = self.pod_informer.list(namespace=meta.namespace(svc))
        desired = desired_slices(svc, pods, self.max_per_slice)
        trigger_time = self.trigger_time_tracker.compute(
            meta.namespace(svc), svc, [p for p in pods if meta.selects(spec["selector"], p)])
        existing = sorted(self.owned_slices(svc), key=meta.name)
        written = self.written.setdefault(key, {})
        for address_type, ports, endpoints in desired:
            current = next((s for s in existing if same_shape(s, address_type, ports)), None)
            if current is not None:
                existing.remove(current)
            wrote = self.write(svc, current, address_type, ports, endpoints, trigger_time)
            if wrote is not None:
                written[meta.name(wrote)] = wrote["metadata"]["resourceVersion"]
        for stale in existing:
            self.delete(stale)
            written[meta.name(stale)] = None
        return None

    def cache_is_stale(self, key):
        """Does the cache lag behind this controller's own last writes for `key`?"""
        ns = meta.split_key(key)[0]
        written = self.written.get(key, {})
        for name, rv in list(written.items()):
            cached = self.slice_informer.get(f"{ns}/{name}")
            if rv is None and cached is not None:
                return True
            if rv is not None and (cached is None or
                                   int(cached["metadata"]["resourceVersion"]) < int(rv)):
                return True
            del written[name]
        return False

    def owned_slices(self, svc):
        return [s for s in self.slice_informer.list(namespace=meta.namespace(svc))
                if service_name(s) == meta.name(svc)
                and meta.labels(s).get(MANAGED_BY_LABEL) == MANAGED_BY]

    def write(self, svc, current, address_type, ports, endpoints, trigger_time=None):
        """Create or update one slice; returns what was written, or None if nothing was."""
        labels = slice_labels(svc)
        if current is not None and meta.labels(current) == labels \
                and cu.semantic_equal(current.get("endpoints") or [], endpoints):
            return None
        if current is None:
            eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                   "metadata": {"generateName": f"{meta.name(svc)[:57]}-",
                                "namespace": meta.namespace(svc), "labels": labels,
                                "ownerReferences": [meta.owner_reference(svc)]},
                   "addressType": address_type, "endpoints": endpoints, "ports": ports}
        else:
            eps = copy.deepcopy(current)
            eps["metadata"]["labels"] = labels
            eps["endpoints"] = endpoints
        annotations = {k: v for k, v in (eps["metadata"].get("annotations") or {}).items()
                       if k != TRIGGER_TIME_ANNOTATION}   # no new trigger time: none (upstream)
        if trigger_time:
            annotations[TRIGGER_TIME_ANNOTATION] = trigger_time
        eps["metadata"]["annotations"] = annotations
        wrote = self.client.create(eps) if current is None else self.client.replace(eps)
        log.info("%s: slice %s with %d endpoints (%d ready)", meta.key(svc), meta.name(wrote),
                 len(endpoints), sum(bool(e["conditions"].get("ready")) for e in endpoints))
        return wrote

    def delete(self, eps):
        try:
            self.client.delete("endpointslices", meta.name(eps), meta.namespace(eps))
        except ApiError as e:
            if not e.not_found:
                raise
        log.info("%s: deleted slice %s", meta.key(eps), meta.name(eps))


def service_name(eps):
    return meta.labels(eps).get(SERVICE_NAME_LABEL)


def slice_labels(svc):
    """The Service's own labels, plus the two that tie a slice to it (setEndpointSliceLabels)."""
    labels = {k: v for k, v in meta.labels(svc).items()
              if k not in (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)}
    labels[SERVICE_NAME_LABEL] = meta.name(svc)
    labels[MANAGED_BY_LABEL] = MANAGED_BY
    if (svc.get("spec") or {}).get("clusterIP") == "None":
        labels[HEADLESS_LABEL] = ""
    return labels


def same_shape(eps, address_type, ports):
    return eps.get("addressType") == address_type and \
        cu.semantic_equal(eps.get("ports") or [], ports)


def pod_to_endpoint(svc, pod):
    """The Endpoints address of `pod` (ip, nodeName, hostname, targetRef) as a slice endpoint."""
    address = endpoint_address(svc, pod)
    serving, terminating = cu.is_pod_ready(pod), cu.being_deleted(pod)
    ready = bool(svc["spec"].get("publishNotReadyAddresses")) or (serving and not terminating)
    return {"addresses": [address.pop("ip")],
            "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
            **address}


def desired_slices(svc, pods, per_slice=MAX_ENDPOINTS_PER_SLICE):
    """[(addressType, ports, endpoints)]: the slices `svc` should have over `pods`."""
    groups = {}   # (addressType, ports as a tuple) -> (ports, [endpoints])
    for pod in pods:
        if not meta.selects(svc["spec"].get("selector") or {}, pod) or \
                not should_be_in_endpoints(pod, include_terminating=True):
            continue
        ports = [{"name": name, "port": number, "protocol": protocol}
                 for name, number, protocol in resolved_ports(svc, pod)]
        address_type = "IPv6" if ":" in pod["status"]["podIP"] else "IPv4"
        shape = (address_type, tuple(tuple(sorted(p.items())) for p in ports))
        groups.setdefault(shape, (ports, []))[1].append(pod_to_endpoint(svc, pod))
    if not groups:   # the placeholder slice: the Service exists, no endpoints yet
        return [("IPv4", [], [])]
    out = []
    for (address_type, _), (ports, endpoints) in sorted(groups.items()):
        endpoints.sort(key=lambda e: (e["addresses"], e["targetRef"]["name"]))
        for i in range(0, len(endpoints), per_slice):
            out.append((address_type, ports, endpoints[i:i + per_slice]))
    return out
