"""Events (``v1``): "what happened to this object", as ``kubectl describe`` and ``get events`` show.

Components record them (``kfs.client.EventRecorder``); etcd forgets them after
``--event-ttl`` (an etcd lease on the key, 1 h by default), and a PUT of a missing Event
creates it. Validation: an old-style Event lives in its involved object's namespace. Field
selectors: ``involvedObject.*`` (how describe finds an object's events), ``reason``,
``type``, ``source``. Printed as ``LAST SEEN TYPE REASON OBJECT MESSAGE``.

Mirrors pkg/registry/core/event (strategy.go: AllowCreateOnUpdate, ToSelectableFields;
storage/storage.go: the TTL), pkg/apis/core/validation/events.go (legacyValidateEvent)
and printEvent.

What real Kubernetes does differently: newer components write ``events.k8s.io/v1`` Events
(series instead of counts), served from the same storage; the apiserver can keep Events
in a separate etcd.
"""
from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import NAME, col, since
from kfs.apiserver.validation.fields import invalid

COLUMNS = [col("Last Seen", description="The time at which the most recent occurrence of this event was "
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
           {**NAME, "priority": 1}]


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


class Event(Kind):
    api_version, kind = "v1", "Event"
    schema_root = "CoreV1Event"
    columns = COLUMNS
    create_on_update = True
    field_selectors = {"involvedObject.kind": None, "involvedObject.namespace": None,
                       "involvedObject.name": None, "involvedObject.uid": None,
                       "involvedObject.apiVersion": None, "involvedObject.resourceVersion": None,
                       "involvedObject.fieldPath": None, "reason": None, "reportingComponent": None,
                       "type": None, "source": "source.component"}

    def validate(self, event):
        """legacyValidateEvent: an old-style Event lives in its involved object's namespace."""
        ns = (event.get("metadata") or {}).get("namespace", "")
        involved = (event.get("involvedObject") or {}).get("namespace", "")
        if event.get("eventTime"):
            return []
        if (involved and involved != ns) or (not involved and ns not in ("", "default")):
            return [invalid("involvedObject.namespace", involved, "does not match event.namespace")]
        return []

    def print_row(self, ev, now):
        return print_event(ev, now)

    def storage_ttl(self):
        return self.server.event_ttl if self.server else None


KIND = Event
