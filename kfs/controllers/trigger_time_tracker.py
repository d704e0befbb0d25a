"""When did the change that a new EndpointSlice reflects happen? The
``endpoints.kubernetes.io/last-change-trigger-time`` annotation.

Mirrors ``pkg/controller/util/endpoint/trigger_time_tracker.go``: per Service, the tracker
remembers the trigger times it saw at the last sync (each selected pod's Ready condition's
``lastTransitionTime``, and the Service's creation time). ``compute(namespace, svc, pods)``
returns the earliest of those that changed since, or None. The endpointslice controller
writes it on every slice it creates or updates; kube-proxy reads it to measure
``kubeproxy_network_programming_duration_seconds`` (the time from that change to the rules
being in the kernel).

What real Kubernetes does differently: the same, with the times at the API server's
precision (seconds here, as kfs writes ``lastTransitionTime``).
"""
import threading
from dataclasses import dataclass, field

from kfs import meta

ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


@dataclass
class ServiceState:
    last_service_trigger_time: str = ""
    last_pod_trigger_times: dict = field(default_factory=dict)


def pod_trigger_time(pod):
    cond = meta.get_condition((pod.get("status") or {}), "Ready")
    return (cond or {}).get("lastTransitionTime") or ""


def service_trigger_time(svc):
    return svc["metadata"].get("creationTimestamp") or ""


class TriggerTimeTracker:
    def __init__(self):
        self.states, self.lock = {}, threading.Lock()

    def compute(self, namespace, svc, pods):
        """The earliest trigger time that changed since the last call for this Service
        (an RFC 3339 string), or None; remembers the current ones."""
        key = f"{namespace}/{meta.name(svc)}"
        with self.lock:
            state = self.states.get(key) or ServiceState()
            changed = []
            pod_times = {}
            for pod in pods:
                t = pod_trigger_time(pod)
                if t:
                    pod_times[meta.name(pod)] = t
                    if t > state.last_pod_trigger_times.get(meta.name(pod), ""):
                        changed.append(t)
            svc_time = service_trigger_time(svc)
            if svc_time > state.last_service_trigger_time:
                changed.append(svc_time)
            self.states[key] = ServiceState(svc_time, pod_times)
            return min(changed) if changed else None   # one format: the string order is time's

    def delete_service(self, namespace, name):
        with self.lock:
            self.states.pop(f"{namespace}/{name}", None)
