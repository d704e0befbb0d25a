from datetime import datetime, timedelta, timezone

import pytest

from kfs import resources
from kfs.apiserver import kinds, tables
from kfs.apiserver.tables import human_duration


def table(plural, objects, **kwargs):
    try:
        kind = kinds.for_resource(resources.lookup(plural))
    except resources.UnknownResource:  # a kind kfs has no rules for
        kind = kinds.lookup("example.com/v1", plural.capitalize())
    return tables.table(kind, objects, **kwargs)

NOW = datetime(2024, 1, 2, 0, 0, 0, tzinfo=timezone.utc)


def ago(**delta):
    return (NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cells(resource, obj):
    return table(resource, [obj], now=NOW)["rows"][0]["cells"]


def named(name, **body):
    return {"metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(minutes=5)}, **body}


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (182, "3m2s"),
    (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (5 * 3600 + 600, "5h10m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (51 * 3600, "2d3h"), (8 * 86400, "8d"),
    (730 * 86400, "2y"), (770 * 86400, "2y40d"), (3000 * 86400, "8y"),
])
def test_ages_read_as_kubectls_human_durations(seconds, text):
    assert human_duration(seconds) == text


@pytest.mark.parametrize("resource, columns, wide", [
    ("pods", ["Name", "Ready", "Status", "Restarts", "Age"], ["IP", "Node", "Nominated Node", "Readiness Gates"]),
    ("deployments", ["Name", "Ready", "Up-to-date", "Available", "Age"], ["Containers", "Images", "Selector"]),
    ("replicasets", ["Name", "Desired", "Current", "Ready", "Age"], ["Containers", "Images", "Selector"]),
    ("services", ["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"], ["Selector"]),
    ("endpoints", ["Name", "Endpoints", "Age"], []),
    ("endpointslices", ["Name", "AddressType", "Ports", "Endpoints", "Age"], []),
    ("nodes", ["Name", "Status", "Roles", "Age", "Version"],
     ["Internal-IP", "External-IP", "OS-Image", "Kernel-Version", "Container-Runtime"]),
    ("namespaces", ["Name", "Status", "Age"], []),
    ("events", ["Last Seen", "Type", "Reason", "Object", "Message"], ["Subobject", "Source", "First Seen", "Count", "Name"]),
    ("leases", ["Name", "Holder", "Age"], []),
    ("rolebindings", ["Name", "Role", "Age"], ["Users", "Groups", "ServiceAccounts"]),
    ("clusterrolebindings", ["Name", "Role", "Age"], ["Users", "Groups", "ServiceAccounts"]),
    ("roles", ["Name", "Created At"], []),
    ("widgets", ["Name", "Created At"], []),
])
def test_each_resource_has_upstreams_columns_with_wide_ones_at_priority_1(resource, columns, wide):
    defs = table(resource, [], now=NOW)["columnDefinitions"]
    assert [c["name"] for c in defs if c["priority"] == 0] == columns
    assert [c["name"] for c in defs if c["priority"] == 1] == wide


def test_a_table_is_a_meta_v1_table_with_complete_column_definitions():
    t = table("pods", [], now=NOW, list_metadata={"resourceVersion": "42"})
    assert (t["kind"], t["apiVersion"], t["metadata"], t["rows"]) == ("Table", "meta.k8s.io/v1",
                                                                      {"resourceVersion": "42"}, [])
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in t["columnDefinitions"])
    assert t["columnDefinitions"][0]["format"] == "name"


@pytest.mark.parametrize("include, expected", [
    (True, "full"), ("Object", "full"), ("Metadata", "partial"), ("None", None), (False, None),
])
def test_rows_carry_the_object_as_asked(include, expected):
    pod = named("p", kind="Pod", apiVersion="v1", spec={"containers": []})
    row = table("pods", [pod], include_object=include, now=NOW)["rows"][0]
    want = {"full": pod, "partial": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                     "metadata": pod["metadata"]}}.get(expected)
    assert row.get("object") == want


# -- pods -------------------------------------------------------------------------------------

def running(name="c", ready=True, restarts=0, **extra):
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ago(hours=1)}},
            **extra}


def pod(status, containers=("c",), inits=(), deleting=False, **spec):
    md = {"name": "p", "creationTimestamp": ago(minutes=3, seconds=2)}
    if deleting:
        md["deletionTimestamp"] = ago(seconds=1)
    return {"metadata": md, "spec": {"containers": [{"name": c} for c in containers],
                                     "initContainers": [{"name": c} for c in inits], **spec}, "status": status}


@pytest.mark.parametrize("obj, status", [
    (pod({"phase": "Pending"}), "Pending"),
    (pod({"phase": "Running", "containerStatuses": [running()]}), "Running"),
    (pod({"phase": "Pending", "containerStatuses": [
        {"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]}), "ContainerCreating"),
    (pod({"phase": "Running", "containerStatuses": [
        {"name": "c", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}), "CrashLoopBackOff"),
    (pod({"phase": "Succeeded", "containerStatuses": [
        {"name": "c", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}), "Completed"),
    (pod({"phase": "Failed", "containerStatuses": [
        {"name": "c", "state": {"terminated": {"exitCode": 137}}}]}), "ExitCode:137"),
    (pod({"phase": "Failed", "containerStatuses": [
        {"name": "c", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}), "Signal:9"),
    (pod({"phase": "Failed", "reason": "Evicted"}), "Evicted"),
    (pod({"phase": "Running", "containerStatuses": [running()]}, deleting=True), "Terminating"),
    (pod({"phase": "Succeeded"}, deleting=True), "Succeeded"),
    (pod({"phase": "Running", "reason": "NodeLost"}, deleting=True), "Unknown"),
    (pod({"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}, inits=("i", "j")),
     "Init:0/2"),
    (pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "state": {"terminated": {"exitCode": 0}}},
        {"name": "j", "state": {"waiting": {"reason": "ErrImagePull"}}}]}, inits=("i", "j")), "Init:ErrImagePull"),
    (pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "state": {"terminated": {"exitCode": 1}}}]}, inits=("i",)), "Init:ExitCode:1"),
    (pod({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}, inits=("i",)), "Init:Error"),
    (pod({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"}]}), "SchedulingGated"),
    (pod({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [
        running("a"), {"name": "b", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]},
        containers=("a", "b")), "NotReady"),
])
def test_pod_status_column_follows_upstreams_reasoning(obj, status):
    assert cells("pods", obj)[2] == status


@pytest.mark.parametrize("statuses, ready", [
    ([running("a"), running("b")], "2/2"),
    ([running("a"), running("b", ready=False)], "1/2"),
    ([], "0/2"),
])
def test_pod_ready_counts_ready_running_containers(statuses, ready):
    assert cells("pods", pod({"phase": "Running", "containerStatuses": statuses}, containers=("a", "b")))[1] == ready


def test_pod_restarts_say_when_the_last_container_restarted():
    st = running(restarts=3, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(seconds=12)}})
    assert cells("pods", pod({"phase": "Running", "containerStatuses": [st]}))[3] == "3 (12s ago)"


def test_pod_restarts_without_a_last_state_are_a_bare_count():
    assert cells("pods", pod({"phase": "Running", "containerStatuses": [running(restarts=1)]}))[3] == "1"


def test_pod_wide_cells_show_ip_node_and_none_for_what_is_missing():
    row = cells("pods", pod({"phase": "Running", "podIPs": [{"ip": "10.1.0.2"}]}, nodeName="node1"))
    assert row[4:] == ["3m2s", "10.1.0.2", "node1", "<none>", "<none>"]


def test_pod_readiness_gates_count_true_conditions():
    obj = pod({"phase": "Running", "conditions": [{"type": "example.com/lb", "status": "True"}]},
              readinessGates=[{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}])
    assert cells("pods", obj)[8] == "1/2"


def test_rows_of_finished_pods_carry_a_completed_condition():
    row = table("pods", [pod({"phase": "Failed"})], now=NOW)["rows"][0]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


# -- workloads, services ---------------------------------------------------------------------

TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}}


def test_deployment_row():
    d = named("web", spec={"replicas": 5, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
              status={"readyReplicas": 3, "updatedReplicas": 4, "availableReplicas": 3})
    assert cells("deployments", d) == ["web", "3/5", 4, 3, "5m", "web,log", "nginx:1.25,busybox", "app=web"]


def test_replicaset_row():
    rs = named("web-5d9f", spec={"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d9f"}},
                                 "template": TEMPLATE}, status={"replicas": 3, "readyReplicas": 1})
    assert cells("replicasets", rs) == ["web-5d9f", 3, 3, 1, "5m", "web,log", "nginx:1.25,busybox",
                                        "app=web,pod-template-hash=5d9f"]


@pytest.mark.parametrize("spec, status, expected", [
    ({"type": "ClusterIP", "clusterIP": "10.96.0.10", "ports": [{"port": 80, "protocol": "TCP"}], "selector": {"app": "web"}},
     {}, ["ClusterIP", "10.96.0.10", "<none>", "80/TCP", "app=web"]),
    ({"type": "NodePort", "clusterIPs": ["10.96.0.11"], "ports": [
        {"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "nodePort": 30053, "protocol": "UDP"}]},
     {}, ["NodePort", "10.96.0.11", "<none>", "80:30080/TCP,53:30053/UDP", "<none>"]),
    ({"type": "ClusterIP", "clusterIP": "None", "ports": []}, {}, ["ClusterIP", "None", "<none>", "<none>", "<none>"]),
    ({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "ports": [{"port": 443, "protocol": "TCP"}]}, {},
     ["LoadBalancer", "10.96.0.12", "<pending>", "443/TCP", "<none>"]),
    ({"type": "LoadBalancer", "clusterIP": "10.96.0.12", "ports": [{"port": 443, "protocol": "TCP"}]},
     {"loadBalancer": {"ingress": [{"ip": "192.168.56.200"}]}},
     ["LoadBalancer", "10.96.0.12", "192.168.56.200", "443/TCP", "<none>"]),
    ({"type": "ExternalName", "externalName": "example.com"}, {},
     ["ExternalName", "<none>", "example.com", "<none>", "<none>"]),
    ({"type": "ClusterIP", "clusterIP": "10.96.0.13", "externalIPs": ["192.168.56.10"],
      "ports": [{"port": 80, "protocol": "TCP"}]}, {}, ["ClusterIP", "10.96.0.13", "192.168.56.10", "80/TCP", "<none>"]),
])
def test_service_row(spec, status, expected):
    row = cells("services", named("web", spec=spec, status=status))
    assert row[1:5] + row[6:] == expected


@pytest.mark.parametrize("subsets, text", [
    (None, "<none>"),
    ([{"addresses": [{"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}], "ports": [{"port": 8080}]}], "10.1.0.2:8080,10.1.0.3:8080"),
    ([{"addresses": [{"ip": f"10.1.0.{i}"} for i in range(2, 7)], "ports": [{"port": 8080}]}],
     "10.1.0.2:8080,10.1.0.3:8080,10.1.0.4:8080 + 2 more..."),
    ([{"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 80}, {"port": 443}]}], "10.1.0.2:80,10.1.0.2:443"),
    ([{"addresses": [{"ip": "10.1.0.2"}]}], "10.1.0.2"),
    ([{"addresses": [{"ip": "fd00::2"}], "ports": [{"port": 80}]}], "[fd00::2]:80"),
    ([{"notReadyAddresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 80}]}], ""),
])
def test_endpoints_show_three_addresses_and_how_many_more(subsets, text):
    assert cells("endpoints", named("web", subsets=subsets))[1] == text


@pytest.mark.parametrize("ports, endpoints, expected", [
    ([], [], ["<unset>", "<unset>"]),
    ([{"name": "http", "port": 8080}], [{"addresses": ["10.1.0.2"]}, {"addresses": ["10.1.0.3"]}],
     ["8080", "10.1.0.2,10.1.0.3"]),
    ([{"name": "a", "port": 1}, {"name": "b"}, {}, {"port": 4}],
     [{"addresses": [f"10.1.0.{i}"]} for i in range(2, 7)],
     ["1,b,* + 1 more...", "10.1.0.2,10.1.0.3,10.1.0.4 + 2 more..."]),
])
def test_endpointslices_show_address_type_and_three_ports_and_addresses(ports, endpoints, expected):
    row = cells("endpointslices", named("web-abcde", addressType="IPv4", ports=ports,
                                        endpoints=endpoints))
    assert row[1:4] == ["IPv4", *expected]


# -- cluster objects ---------------------------------------------------------------------------

@pytest.mark.parametrize("conditions, unschedulable, status", [
    ([{"type": "Ready", "status": "True"}], False, "Ready"),
    ([{"type": "Ready", "status": "False"}], False, "NotReady"),
    ([{"type": "Ready", "status": "Unknown"}], False, "NotReady"),
    ([], False, "Unknown"),
    ([{"type": "Ready", "status": "True"}], True, "Ready,SchedulingDisabled"),
])
def test_node_status_column(conditions, unschedulable, status):
    node = named("node1", spec={"unschedulable": unschedulable}, status={"conditions": conditions})
    assert cells("nodes", node)[1] == status


def test_node_row_with_roles_version_and_wide_cells():
    node = named("cp", spec={}, status={
        "conditions": [{"type": "Ready", "status": "True"}],
        "addresses": [{"type": "Hostname", "address": "cp"}, {"type": "InternalIP", "address": "192.168.56.10"}],
        "nodeInfo": {"kubeletVersion": "v1.32.0-kfs", "osImage": "Debian GNU/Linux 12", "kernelVersion": "6.1.0"}})
    node["metadata"]["labels"] = {"node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "master"}
    assert cells("nodes", node) == ["cp", "Ready", "control-plane,master", "5m", "v1.32.0-kfs", "192.168.56.10",
                                    "<none>", "Debian GNU/Linux 12", "6.1.0", "<unknown>"]


def test_a_node_without_roles_shows_none():
    assert cells("nodes", named("n", status={}))[2] == "<none>"


def test_namespace_row():
    assert cells("namespaces", named("team-a", status={"phase": "Active"})) == ["team-a", "Active", "5m"]


def test_event_row_reads_last_seen_type_reason_object_message():
    ev = named("web-1.17a", type="Normal", reason="Scheduled", message="Successfully assigned default/web-1 to node1\n",
               involvedObject={"kind": "Pod", "name": "web-1", "fieldPath": "spec.containers{web}"},
               source={"component": "default-scheduler"}, firstTimestamp=ago(minutes=2), lastTimestamp=ago(seconds=30),
               count=2)
    assert cells("events", ev) == ["30s", "Normal", "Scheduled", "pod/web-1", "spec.containers{web}",
                                   "default-scheduler", "Successfully assigned default/web-1 to node1", "2m", 2,
                                   "web-1.17a"]


def test_an_event_with_only_an_event_time_uses_it_and_counts_once():
    ev = named("e", eventTime=(NOW - timedelta(seconds=7)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
               involvedObject={"kind": "Node", "name": "node1"}, reportingComponent="kubelet", reportingInstance="node1")
    row = cells("events", ev)
    assert (row[0], row[5], row[7], row[8]) == ("7s", "kubelet, node1", "7s", 1)


def test_lease_row():
    assert cells("leases", named("node1", spec={"holderIdentity": "node1"})) == ["node1", "node1", "5m"]


def test_binding_row_lists_users_groups_and_service_accounts():
    b = named("readers", roleRef={"kind": "ClusterRole", "name": "view"}, subjects=[
        {"kind": "User", "name": "alice"}, {"kind": "User", "name": "bob"}, {"kind": "Group", "name": "devs"},
        {"kind": "ServiceAccount", "name": "default", "namespace": "team-a"}])
    assert cells("rolebindings", b) == ["readers", "ClusterRole/view", "5m", "alice, bob", "devs", "team-a/default"]


def test_kinds_without_a_printer_show_name_and_creation_time():
    assert cells("roles", named("reader")) == ["reader", ago(minutes=5)]
