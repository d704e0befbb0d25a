"""The change trackers: what a sync learns about Services and EndpointSlices since the last."""
import copy
from datetime import datetime, timedelta, timezone

from kfs.proxy.endpointschangetracker import EndpointsChangeTracker, EndpointsMap
from kfs.proxy.metrics import ProxyMetrics
from kfs.proxy.topology import categorize_endpoints
from kfs.proxy.servicechangetracker import (ServiceChangeTracker, ServicePortMap,
                                            ServicePortName, service_ports)
from tests.unit.proxy_objects import endpoint, endpoint_slice, service

HTTP = [("http", 80, 8080, "TCP")]
SLICE_HTTP = [("http", 8080, "TCP")]


def test_a_service_port_name_prints_as_upstream():
    assert str(ServicePortName("default", "web", "http", "TCP")) == "default/web:http"
    assert str(ServicePortName("default", "web", "", "TCP")) == "default/web"


def test_each_port_of_a_service_is_its_own_service_port():
    ports = service_ports(service("web", [("http", 80, 8080, "TCP"), ("dns", 53, 53, "UDP")]))
    assert sorted(map(str, ports)) == ["default/web:dns", "default/web:http"]
    http = ports[ServicePortName("default", "web", "http", "TCP")]
    assert (http.cluster_ip, http.port, http.protocol) == ("10.96.0.10", 80, "TCP")


def test_a_change_and_its_undo_leave_nothing_to_sync():
    tracker, old = ServiceChangeTracker(), service("web", HTTP)
    new = copy.deepcopy(old)
    new["spec"]["ports"][0]["port"] = 81
    assert tracker.update(old, new) is True
    assert tracker.update(new, old) is False and tracker.items == {}


def test_a_change_that_does_not_touch_the_rules_is_no_change():
    tracker, old = ServiceChangeTracker(), service("web", HTTP)
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"team": "a"}
    new["metadata"]["resourceVersion"] = "2"
    assert tracker.update(old, new) is False


def test_the_port_map_applies_changes_and_names_the_services_that_changed():
    tracker, m = ServiceChangeTracker(ProxyMetrics()), ServicePortMap()
    web, db = service("web", HTTP), service("db", [("pg", 5432, 5432, "TCP")])
    tracker.update(None, web)
    tracker.update(None, db)
    assert m.update(tracker) == {("default", "web"), ("default", "db")} and len(m) == 2
    tracker.update(web, None)
    assert m.update(tracker) == {("default", "web")}
    assert [str(k) for k in m] == ["default/db:pg"]
    assert m.update(tracker) == set()


def test_health_check_node_ports_exist_only_for_load_balancers_with_local_policy():
    lb = service("lb", [("http", 80, 8080, "TCP", 30080)], type="LoadBalancer",
                 externalTrafficPolicy="Local", healthCheckNodePort=32000)
    nodeport = service("np", [("http", 80, 8080, "TCP", 30081)], type="NodePort",
                       externalTrafficPolicy="Local", healthCheckNodePort=32001)
    tracker, m = ServiceChangeTracker(), ServicePortMap()
    tracker.update(None, lb)
    tracker.update(None, nodeport)
    m.update(tracker)
    assert m.health_check_node_ports() == {("default", "lb"): 32000}


def test_endpoints_come_from_all_slices_of_a_service_sorted_and_deduplicated():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    tracker.endpoint_slice_update(endpoint_slice("web", ["10.244.1.9", "10.244.1.10"],
                                                 SLICE_HTTP, name="web-a"), False)
    tracker.endpoint_slice_update(endpoint_slice("web", ["10.244.1.2", "10.244.1.10"],
                                                 SLICE_HTTP, name="web-b"), False)
    result = m.update(tracker)
    assert result.updated_services == {("default", "web")}
    eps = m[ServicePortName("default", "web", "http", "TCP")]
    assert [str(e) for e in eps] == ["10.244.1.10:8080", "10.244.1.2:8080", "10.244.1.9:8080"]


def test_an_endpoint_moving_between_slices_is_not_lost():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    a = endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP, name="web-a")
    b = endpoint_slice("web", [], SLICE_HTTP, name="web-b")
    tracker.endpoint_slice_update(a, False)
    tracker.endpoint_slice_update(b, False)
    m.update(tracker)
    b2, a2 = copy.deepcopy(b), copy.deepcopy(a)
    b2["endpoints"], a2["endpoints"] = a["endpoints"], []
    tracker.endpoint_slice_update(b2, False)   # it appears in b before it leaves a
    m.update(tracker)
    tracker.endpoint_slice_update(a2, False)
    m.update(tracker)
    assert [str(e) for e in m[ServicePortName("default", "web", "http", "TCP")]] == \
        ["10.244.1.2:8080"]


def test_a_terminating_copy_of_an_address_loses_to_the_running_one():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    tracker.endpoint_slice_update(endpoint_slice("web", [
        endpoint("10.244.1.2", ready=False, serving=True, terminating=True)], SLICE_HTTP,
        name="web-a"), False)
    tracker.endpoint_slice_update(endpoint_slice("web", [endpoint("10.244.1.2")], SLICE_HTTP,
                                                 name="web-b"), False)
    m.update(tracker)
    (ep,) = m[ServicePortName("default", "web", "http", "TCP")]
    assert ep.ready and not ep.terminating


def test_deleting_the_last_slice_removes_the_endpoints():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    eps = endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP)
    tracker.endpoint_slice_update(eps, False)
    m.update(tracker)
    assert tracker.endpoint_slice_update(eps, True) is True
    assert m.update(tracker).updated_services == {("default", "web")} and not m
    assert tracker.endpoint_slice_update(eps, True) is False   # gone already: nothing to do


def test_an_unchanged_slice_is_no_change_and_ipv6_slices_are_ignored():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    eps = endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP)
    tracker.endpoint_slice_update(eps, False)
    m.update(tracker)
    assert tracker.endpoint_slice_update(copy.deepcopy(eps), False) is False
    v6 = endpoint_slice("web", ["fd00::2"], SLICE_HTTP, name="web-v6")
    v6["addressType"] = "IPv6"
    assert tracker.endpoint_slice_update(v6, False) is False


def test_endpoints_on_this_node_are_local():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    tracker.endpoint_slice_update(endpoint_slice("web", [
        endpoint("10.244.1.2", node="node1"), endpoint("10.244.2.2", node="node2")],
        SLICE_HTTP), False)
    m.update(tracker)
    assert {e.ip: e.is_local for e in m[ServicePortName("default", "web", "http", "TCP")]} == \
        {"10.244.1.2": True, "10.244.2.2": False}
    assert m.local_ready_endpoints() == {("default", "web"): 1}


def test_trigger_times_after_the_tracker_started_are_handed_to_the_sync_once():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    later = datetime.now(timezone.utc) + timedelta(seconds=1)
    before = tracker.start_time - timedelta(hours=1)
    stamp = lambda t: t.isoformat().replace("+00:00", "Z")   # noqa: E731
    tracker.endpoint_slice_update(endpoint_slice(
        "web", ["10.244.1.2"], SLICE_HTTP,
        annotations={"endpoints.kubernetes.io/last-change-trigger-time": stamp(later)}), False)
    tracker.endpoint_slice_update(endpoint_slice(
        "db", ["10.244.1.3"], SLICE_HTTP,
        annotations={"endpoints.kubernetes.io/last-change-trigger-time": stamp(before)}), False)
    result = m.update(tracker)
    assert list(result.last_change_trigger_times) == [("default", "web")]
    assert m.update(tracker).last_change_trigger_times == {}


def test_a_udp_endpoint_change_asks_for_conntrack_cleanup():
    tracker, m = EndpointsChangeTracker("node1"), EndpointsMap()
    tracker.endpoint_slice_update(endpoint_slice("web", ["10.244.1.2"], SLICE_HTTP), False)
    assert m.update(tracker).conntrack_cleanup_required is False
    tracker.endpoint_slice_update(endpoint_slice("dns", ["10.244.1.5"], [("dns", 53, "UDP")]),
                                  False)
    assert m.update(tracker).conntrack_cleanup_required is True


def categorize(svc, endpoints):
    (sp,) = service_ports(svc).values()
    return categorize_endpoints(endpoints, sp)


def test_local_policy_falls_back_to_local_terminating_endpoints_only():
    from kfs.proxy.endpointschangetracker import Endpoint
    svc = service("web", [("http", 80, 8080, "TCP", 30080)], type="NodePort",
                  externalTrafficPolicy="Local")
    remote = Endpoint("10.244.2.2", 8080, is_local=False)
    leaving = Endpoint("10.244.1.2", 8080, is_local=True, ready=False, serving=True,
                       terminating=True)
    cluster, local, reachable, has_any = categorize(svc, [remote, leaving])
    assert cluster == [remote] and local == [leaving] and has_any
    assert set(reachable) == {remote, leaving}
    cluster, local, reachable, has_any = categorize(svc, [remote])
    assert local == [] and reachable == [remote] and has_any
