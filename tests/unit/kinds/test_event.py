"""Events: validation, field selectors, the printed row, the TTL (kfs/apiserver/kinds/event.py)."""
from datetime import timedelta


from tests.unit.kind_objects import (
    TABLE_NOW, ago, cells, column_names, errors, named)


def test_event_row_reads_last_seen_type_reason_object_message():
    ev = named("web-1.17a", type="Normal", reason="Scheduled", message="Successfully assigned default/web-1 to node1\n",
               involvedObject={"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
               source={"component": "default-scheduler"}, firstTimestamp=ago(minutes=2), lastTimestamp=ago(seconds=30),
               count=2)
    assert cells("events", ev) == ["30s", "Normal", "Scheduled", "pod/web-1", "spec.containers{web}",
                                   "default-scheduler", "Successfully assigned default/web-1 to node1", "2m", 2,
                                   "web-1.17a"]


def test_an_event_with_only_an_event_time_uses_it_and_counts_once():
    ev = named("e", eventTime=(TABLE_NOW - timedelta(seconds=7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
               involvedObject={"kind": "Node", "name": "node1"}, reportingComponent="kubelet", reportingInstance="node1")
    row = cells("events", ev)
    assert (row[0], row[5], row[7], row[8]) == ("7s", "kubelet, node1", "7s", 1)


def test_a_valid_event_has_no_causes():
    assert errors({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.17a", "namespace": "default"},
                   "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"},
                   "reason": "Scheduled"}) == []


def test_an_event_lives_in_its_involved_objects_namespace():
    ev = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
          "involvedObject": {"kind": "Pod", "name": "p", "namespace": "kube-system"}}
    assert ("involvedObject.namespace", 'Invalid value: "kube-system": does not match event.namespace') in [
        (e[0], e[2]) for e in errors(ev)]


def test_events_have_upstreams_columns_with_wide_ones_at_priority_1():
    assert column_names("events") == (["Last Seen", "Type", "Reason", "Object", "Message"],
                                      ["Subobject", "Source", "First Seen", "Count", "Name"])
