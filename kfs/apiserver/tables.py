"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` prints.

kubectl does not know how to print a Pod. It asks the API server for a Table
(``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``) and prints its columns: the
server decides that a Pod's STATUS is ``CrashLoopBackOff`` or ``Init:0/1`` or
``Terminating``, that RESTARTS reads ``3 (12s ago)`` and AGE ``3m2s``. Columns with
``priority: 1`` are printed only by ``kubectl get -o wide``; the server always sends them.

`table(resource, objects, include_object=True, now=None)` builds one. Each row carries the
object too, in full (``include_object=True`` or "Object"), as PartialObjectMetadata
("Metadata", upstream's default) or not at all (False or "None"): kubectl uses it for
``--show-labels``, sorting and ``-o name``.

Mirrors pkg/printers/internalversion/printers.go (AddHandlers, printPod, printDeployment,
printService, printNode, printEvent, ...), apimachinery pkg/util/duration (HumanDuration)
and, for kinds with no printer (roles), apiserver's default table convertor (NAME,
CREATED AT).

What real Kubernetes does differently: printers for ~60 kinds; the table is generated from
the internal type, so a field the conversion fills (``clusterIPs`` from ``clusterIP``) is
always there; label selectors print in the internal selector's order.
"""
from datetime import datetime, timezone

from kfs import meta

NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some "
            "resources may allow a client to request the generation of an appropriate name automatically. "
            "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
            "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is "
           "not guaranteed to be set in happens-before order across separate operations. Clients may not set "
           "this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
           "Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/"
           "sig-architecture/api-conventions.md#metadata")


def col(name, type_="string", description="", priority=0, fmt=""):
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


NAME, AGE = col("Name", fmt="name", description=NAME_DOC), col("Age", description=AGE_DOC)
TEMPLATE_WIDE = [col("Containers", description="Names of each container in the template.", priority=1),
                 col("Images", description="Images referenced by each container in the template.", priority=1),
                 col("Selector", description="Label selector for pods.", priority=1)]
SUBJECTS_WIDE = [col(f"{k}", description=f"{k} in the roleBinding", priority=1)
                 for k in ("Users", "Groups", "ServiceAccounts")]

COLUMNS = {
    "pods": [NAME, col("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
             col("Status", description="The aggregate status of the containers in this pod."),
             col("Restarts", description="The number of times the containers in this pod have been restarted "
                 "and when the last container in this pod has restarted."), AGE,
             col("IP", description="IP address allocated to the pod.", priority=1),
             col("Node", description="NodeName is the node the pod is scheduled onto.", priority=1),
             col("Nominated Node", description="nominatedNodeName is set when this pod preempts other pods "
                 "on the node.", priority=1),
             col("Readiness Gates", description="If specified, all readiness gates will be evaluated for pod "
                 "readiness.", priority=1)],
    "deployments": [NAME, col("Ready", description="Number of the pod with ready state"),
                    col("Up-to-date", description="Total number of non-terminated pods targeted by this "
                        "deployment that have the desired template spec."),
                    col("Available", description="Total number of available pods (ready for at least "
                        "minReadySeconds) targeted by this deployment."), AGE, *TEMPLATE_WIDE],
    "replicasets": [NAME, col("Desired", "integer", "Replicas is the number of desired replicas."),
                    col("Current", "integer", "Replicas is the most recently observed number of replicas."),
                    col("Ready", "integer", "The number of ready replicas for this replica set."), AGE,
                    *TEMPLATE_WIDE],
    "services": [NAME, col("Type", description="type determines how the Service is exposed."),
                 col("Cluster-IP", description="clusterIP is the IP address of the service."),
                 col("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                     "cluster will also accept traffic for this service."),
                 col("Port(s)", description="The list of ports that are exposed by this service."), AGE,
                 col("Selector", description="Route service traffic to pods with label keys and values "
                     "matching this selector.", priority=1)],
    "endpoints": [NAME, col("Endpoints", description="The set of all endpoints is the union of all subsets."), AGE],
    "endpointslices": [NAME, col("AddressType", description="addressType specifies the type of address carried "
                                 "by this EndpointSlice."),
                       col("Ports", description="ports specifies the list of network ports exposed by each "
                           "endpoint in this slice."),
                       col("Endpoints", description="endpoints is a list of unique endpoints in this slice."),
                       AGE],
    "nodes": [NAME, col("Status", description="The status of the node"),
              col("Roles", description="The roles of the node"), AGE,
              col("Version", description="Kubelet Version reported by the node."),
              col("Internal-IP", description="List of addresses reachable to the node.", priority=1),
              col("External-IP", description="List of addresses reachable to the node.", priority=1),
              col("OS-Image", description="OS Image reported by the node from /etc/os-release.", priority=1),
              col("Kernel-Version", description="Kernel Version reported by the node from 'uname -r'.", priority=1),
              col("Container-Runtime", description="ContainerRuntime Version reported by the node through "
                  "runtime remote API.", priority=1)],
    "namespaces": [NAME, col("Status", description="The status of the namespace"), AGE],
    "events": [col("Last Seen", description="The time at which the most recent occurrence of this event was "
                   "recorded."),
               col("Type", description="Type of this event (Normal, Warning), new types could be added in the "
                   "future"),
               col("Reason", description="This should be a short, machine understandable string that gives the "
                   "reason for the transition into the object's current status."),
               col("Object", description="The object that this event is about."),
               col("Subobject", description="The field of the object this event is about.", priority=1),
               col("Source", description="The component reporting this event.", priority=1),
               col("Message", description="A human-readable description of the status of this operation."),
               col("First Seen", description="The time at which the event was first recorded.", priority=1),
               col("Count", description="The number of times this event has occurred.", priority=1),
               col("Name", fmt="name", description=NAME_DOC, priority=1)],
    "leases": [NAME, col("Holder", description="holderIdentity contains the identity of the holder of a "
                         "current lease."), AGE],
    "rolebindings": [NAME, col("Role", description="RoleRef can reference a Role in the current namespace or "
                               "a ClusterRole in the global namespace."), AGE, *SUBJECTS_WIDE],
    "clusterrolebindings": [NAME, col("Role", description="RoleRef can only reference a ClusterRole in the "
                                      "global namespace."), AGE, *SUBJECTS_WIDE],
}
DEFAULT_COLUMNS = [NAME, col("Created At", "date", AGE_DOC)]
ROLE_PREFIX = "node-role.kubernetes.io/"


def table(resource, objects, include_object=True, now=None, list_metadata=None):
    """A meta.k8s.io/v1 Table of `objects` (all of one resource, by its plural name).

    `now` (a datetime, default the current time) is what AGE is measured against.
    """
    now = now or datetime.now(timezone.utc)
    printer = PRINTERS.get(resource)
    rows = []
    for obj in objects:
        cells = printer(obj, now) if printer else [meta.name(obj), (obj.get("metadata") or {}).get(
            "creationTimestamp") or "<unknown>"]
        row = {"cells": cells}
        if resource == "pods" and (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            phase = obj["status"]["phase"]
            row["conditions"] = [{"type": "Completed", "status": "True", "reason": phase,
                                  "message": "The pod has completed successfully." if phase == "Succeeded"
                                  else "The pod failed."}]
        embedded = _embedded(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_metadata or {}),
            "columnDefinitions": COLUMNS.get(resource, DEFAULT_COLUMNS), "rows": rows}


def _embedded(obj, include_object):
    if include_object in (True, "Object"):
        return obj
    if include_object == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {}}
    return None


# -- time ----------------------------------------------------------------------------------

def human_duration(seconds):
    """HumanDuration: "5s", "3m2s", "15m", "5h10m", "2d3h", "120d", "3y40d"."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def since(timestamp, now):
    """translateTimestampSince: the age of an RFC 3339 time, or "<unknown>"."""
    if not timestamp:
        return "<unknown>"
    t = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return human_duration((now - t).total_seconds())


def age(obj, now):
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


# -- pods ----------------------------------------------------------------------------------

def print_pod(pod, now):
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    inits = {c.get("name"): c for c in spec.get("initContainers") or []}
    sidecar = {n for n, c in inits.items() if c.get("restartPolicy") == "Always"}
    total, ready = len(spec.get("containers") or []) + len(sidecar), 0
    restarts = sidecar_restarts = 0
    last = sidecar_last = ""
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        state, finished = cs.get("state") or {}, _finished_at(cs)
        restarts += cs.get("restartCount", 0)
        last = max(last, finished)
        if cs.get("name") in sidecar:
            sidecar_restarts += cs.get("restartCount", 0)
            sidecar_last = max(sidecar_last, finished)
        term, waiting = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if cs.get("name") in sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        if term:
            reason = "Init:" + term["reason"] if term.get("reason") else (
                f"Init:Signal:{term['signal']}" if term.get("signal") else f"Init:ExitCode:{term.get('exitCode', 0)}")
        elif waiting and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{i}/{len(inits)}"
        initializing = True
        break
    if not initializing or meta.condition_true(pod, "Initialized"):
        restarts, last, running = sidecar_restarts, sidecar_last, False
        for cs in reversed(status.get("containerStatuses") or []):
            state = cs.get("state") or {}
            restarts += cs.get("restartCount", 0)
            last = max(last, _finished_at(cs))
            waiting, term = state.get("waiting") or {}, state.get("terminated")
            if waiting.get("reason"):
                reason = waiting["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode', 0)}"
            elif cs.get("ready") and state.get("running") is not None:
                running, ready = True, ready + 1
        if reason == "Completed" and running:
            reason = "Running" if meta.condition_true(pod, "Ready") else "NotReady"
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_cell = f"{restarts} ({since(last, now)} ago)" if restarts and last else str(restarts)
    ips = status.get("podIPs") or ([{"ip": status["podIP"]}] if status.get("podIP") else [])
    return [meta.name(pod), f"{ready}/{total}", reason, restarts_cell, age(pod, now),
            (ips[0].get("ip") if ips else "") or "<none>", spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", _readiness_gates(spec, status)]


def _finished_at(container_status):
    return ((container_status.get("lastState") or {}).get("terminated") or {}).get("finishedAt") or ""


def _readiness_gates(spec, status):
    gates = spec.get("readinessGates") or []
    if not gates:
        return "<none>"
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    true = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{true}/{len(gates)}"


# -- workloads -----------------------------------------------------------------------------

def _containers_images(template):
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def _selector(sel):
    return meta.selector_to_string(sel) if sel else ""


def print_deployment(d, now):
    spec, status = d.get("spec") or {}, d.get("status") or {}
    names, images = _containers_images(spec.get("template"))
    return [meta.name(d), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age(d, now),
            names, images, _selector(spec.get("selector"))]


def print_replicaset(rs, now):
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    names, images = _containers_images(spec.get("template"))
    return [meta.name(rs), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            age(rs, now), names, images, _selector(spec.get("selector")) or "<none>"]


# -- services, endpoints --------------------------------------------------------------------

def print_service(svc, now):
    spec, status = svc.get("spec") or {}, svc.get("status") or {}
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = ",".join(f"{p.get('port')}:{p['nodePort']}/{p.get('protocol', 'TCP')}" if p.get("nodePort")
                     else f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec.get("ports") or [])
    selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
    return [meta.name(svc), spec.get("type", ""), ips[0] if ips else "<none>", _external_ip(spec, status),
            ports or "<none>", age(svc, now), selector or "<none>"]


def _external_ip(spec, status):
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


def print_endpointslice(eps, now):
    ports = [str(p["port"]) if p.get("port") is not None else p.get("name") or "*"
             for p in eps.get("ports") or []]
    addresses = [a for e in eps.get("endpoints") or [] for a in e.get("addresses") or []]
    return [meta.name(eps), eps.get("addressType", ""), list_with_more(ports),
            list_with_more(addresses), age(eps, now)]


def list_with_more(items, empty="<unset>"):
    """listWithMoreString: the first three, "a,b,c + 2 more...", or `empty` for none."""
    text = ",".join(items[:3]) or empty
    return f"{text} + {len(items) - 3} more..." if len(items) > 3 else text


# -- cluster objects -------------------------------------------------------------------------

def print_node(node, now):
    spec, status = node.get("spec") or {}, node.get("status") or {}
    ready = meta.get_condition(status, "Ready")
    states = [] if ready is None else ["Ready" if ready.get("status") == "True" else "NotReady"]
    states = states or ["Unknown"]
    if spec.get("unschedulable"):
        states.append("SchedulingDisabled")
    info = status.get("nodeInfo") or {}
    return [meta.name(node), ",".join(states), ",".join(node_roles(node)) or "<none>", age(node, now),
            info.get("kubeletVersion", ""), _address(status, "InternalIP"), _address(status, "ExternalIP"),
            info.get("osImage") or "<unknown>", info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


def node_roles(node):
    """findNodeRoles: ``node-role.kubernetes.io/<role>`` labels and a ``kubernetes.io/role`` value."""
    roles = set()
    for k, v in meta.labels(node).items():
        if k.startswith(ROLE_PREFIX) and k != ROLE_PREFIX:
            roles.add(k[len(ROLE_PREFIX):])
        elif k == "kubernetes.io/role" and v:
            roles.add(v)
    return sorted(roles)


def _address(status, type_):
    return next((a.get("address") for a in status.get("addresses") or [] if a.get("type") == type_), "<none>")


def print_namespace(ns, now):
    return [meta.name(ns), (ns.get("status") or {}).get("phase", ""), age(ns, now)]


def print_event(ev, now):
    first = since(ev.get("firstTimestamp"), now) if ev.get("firstTimestamp") else since(ev.get("eventTime"), now)
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 1
    if ev.get("series"):
        last, count = since(ev["series"].get("lastObservedTime"), now), ev["series"].get("count", 0)
    involved, source = ev.get("involvedObject") or {}, ev.get("source") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    component = source.get("component") or ev.get("reportingComponent") or ""
    host = source.get("host") or ev.get("reportingInstance") or ""
    return [last, ev.get("type", ""), ev.get("reason", ""), target, involved.get("fieldPath", ""),
            component + (f", {host}" if host else ""), (ev.get("message") or "").strip(), first, count,
            meta.name(ev)]


def print_lease(lease, now):
    return [meta.name(lease), (lease.get("spec") or {}).get("holderIdentity", ""), age(lease, now)]


def print_binding(b, now):
    ref = b.get("roleRef") or {}
    subjects = b.get("subjects") or []
    users = [s.get("name", "") for s in subjects if s.get("kind") == "User"]
    groups = [s.get("name", "") for s in subjects if s.get("kind") == "Group"]
    sas = [f"{s.get('namespace', '')}/{s.get('name', '')}" for s in subjects if s.get("kind") == "ServiceAccount"]
    return [meta.name(b), f"{ref.get('kind', '')}/{ref.get('name', '')}", age(b, now),
            ", ".join(users), ", ".join(groups), ", ".join(sas)]


PRINTERS = {
    "pods": print_pod, "deployments": print_deployment, "replicasets": print_replicaset,
    "services": print_service, "endpoints": print_endpoints,
    "endpointslices": print_endpointslice, "nodes": print_node,
    "namespaces": print_namespace, "events": print_event, "leases": print_lease,
    "rolebindings": print_binding, "clusterrolebindings": print_binding,
}
