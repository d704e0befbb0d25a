"""Services: defaults, kept allocations, validation, the printed row (kfs/apiserver/kinds/service.py)."""

import pytest

from tests.unit.kind_objects import (
    DNS1035_MSG, cells, changed, column_names, created,
    defaulted, errors, named, service, stored, updated)


@pytest.mark.parametrize("type_, expected", [
    ("ClusterIP", {"sessionAffinity": "None", "type": "ClusterIP", "internalTrafficPolicy": "Cluster"}),
    ("NodePort", {"sessionAffinity": "None", "type": "NodePort", "internalTrafficPolicy": "Cluster",
                  "externalTrafficPolicy": "Cluster"}),
    ("LoadBalancer", {"sessionAffinity": "None", "type": "LoadBalancer", "internalTrafficPolicy": "Cluster",
                      "externalTrafficPolicy": "Cluster", "allocateLoadBalancerNodePorts": True}),
    ("ExternalName", {"sessionAffinity": "None", "type": "ExternalName"}),
])
def test_service_defaults_depend_on_its_type(type_, expected):
    spec = defaulted(service(type=type_))["spec"]
    assert {k: spec[k] for k in spec if k not in ("selector", "ports")} == expected


def test_a_service_without_a_type_is_cluster_ip():
    assert defaulted(service())["spec"]["type"] == "ClusterIP"


@pytest.mark.parametrize("port, expected", [
    ({"port": 80}, {"port": 80, "protocol": "TCP", "targetPort": 80}),
    ({"port": 80, "targetPort": "http"}, {"port": 80, "protocol": "TCP", "targetPort": "http"}),
    ({"port": 53, "protocol": "UDP", "targetPort": 5353}, {"port": 53, "protocol": "UDP", "targetPort": 5353}),
])
def test_service_ports_default_to_tcp_and_the_target_port_to_the_port(port, expected):
    assert defaulted(service(ports=[port]))["spec"]["ports"] == [expected]


def test_client_ip_affinity_gets_a_three_hour_timeout():
    spec = defaulted(service(sessionAffinity="ClientIP"))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}


def test_a_new_service_gets_cluster_ips_from_its_cluster_ip():
    assert created(service(clusterIP="10.96.0.10"))["spec"]["clusterIPs"] == ["10.96.0.10"]


def test_an_applied_service_manifest_without_cluster_ip_and_node_port_keeps_them():
    old = created(service(type="NodePort", clusterIP="10.96.0.10", ports=[{"name": "http", "port": 80,
                                                                           "nodePort": 30080}]))
    new = updated(old, lambda s: s.update(spec={"type": "NodePort", "ports": [{"name": "http", "port": 8080}]}))
    assert (new["spec"]["clusterIP"], new["spec"]["clusterIPs"], new["spec"]["ports"][0]["nodePort"]) == (
        "10.96.0.10", ["10.96.0.10"], 30080)


@pytest.mark.parametrize("obj, field, reason, message", [
    (service(ports=[]), "spec.ports", "FieldValueRequired", "Required value"),
    (service(ports=[{"port": 0}]), "spec.ports[0].port", "FieldValueInvalid",
     "Invalid value: 0: must be between 1 and 65535, inclusive"),
    (service(ports=[{"port": 80}, {"port": 81, "name": "b"}]), "spec.ports[0].name", "FieldValueRequired",
     "Required value"),
    (service(type="Magic"), "spec.type", "FieldValueNotSupported",
     'Unsupported value: "Magic": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"'),
    (service(type="NodePort", ports=[{"port": 80, "nodePort": 80}]), "spec.ports[0].nodePort", "FieldValueInvalid",
     "Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767"),
    (service(ports=[{"port": 80, "nodePort": 30080}]), "spec.ports[0].nodePort", "FieldValueForbidden",
     "Forbidden: may not be used when `type` is 'ClusterIP'"),
    (service(ports=[{"port": 80, "name": "a"}, {"port": 80, "name": "b"}]), "spec.ports[1]", "FieldValueDuplicate",
     'Duplicate value: core.ServicePort{Name:"", Protocol:"TCP", AppProtocol:(*string)(nil), Port:80, '
     'TargetPort:intstr.IntOrString{Type:0, IntVal:0, StrVal:""}, NodePort:0}'),
    (service(clusterIP="10.0.0.300"), "spec.clusterIPs[0]", "FieldValueInvalid",
     'Invalid value: "10.0.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'),
    (service(type="NodePort", clusterIP="None"), "spec.clusterIPs[0]", "FieldValueInvalid",
     "Invalid value: \"None\": may not be set to 'None' for NodePort services"),
    (service(selector={"app": "web!"}), "spec.selector", "FieldValueInvalid",
     'Invalid value: "web!": a valid label must be an empty string or consist of alphanumeric characters, '
     "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
     "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
    (service(externalTrafficPolicy="Local"), "spec.externalTrafficPolicy", "FieldValueInvalid",
     "Invalid value: \"Local\": may only be set when `type` is 'NodePort' or 'LoadBalancer'"),
])
def test_service_errors_name_the_field_at_fault_as_upstream(obj, field, reason, message):
    assert (field, reason, message) in errors(obj)


def test_a_services_cluster_ip_may_not_change_once_set():
    old = stored(service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"]))
    new = changed(old, lambda s: s["spec"].update(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"]))
    assert errors(new, old) == [("spec.clusterIPs[0]", "FieldValueInvalid",
                                 'Invalid value: []string{"10.96.0.11"}: may not change once set')]


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


@pytest.mark.parametrize("svc", [
    service(), service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
    service(clusterIP="None", ports=[]),
], ids=["ClusterIP", "NodePort", "headless"])
def test_a_valid_service_has_no_causes(svc):
    assert errors(svc) == []


def test_a_services_name_is_a_dns_1035_label():
    svc = service()
    svc["metadata"]["name"] = "1web"
    assert errors(svc)[0] == ("metadata.name", "FieldValueInvalid", f'Invalid value: "1web": {DNS1035_MSG}')


def test_services_have_upstreams_columns_with_wide_ones_at_priority_1():
    assert column_names("services") == (["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"],
                                        ["Selector"])


class KeyStore:
    """The two calls the allocator makes of kfs.storage, in a set."""

    def __init__(self):
        self.keys = set()

    def create_key(self, key, value=b""):
        if key in self.keys:
            return False
        self.keys.add(key)
        return True

    def delete_key(self, key):
        self.keys.discard(key)


def test_a_local_load_balancer_gets_a_health_check_node_port_released_when_it_goes_cluster():
    from kfs.apiserver.allocator import PORT_PREFIX, Allocator
    store = KeyStore()
    a = Allocator(store)
    svc = {"metadata": {"name": "web"}, "spec": {
        "type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}}
    a.allocate(svc)
    hc, np = svc["spec"]["healthCheckNodePort"], svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= hc <= 32767 and hc != np
    assert store.keys >= {PORT_PREFIX + str(hc), PORT_PREFIX + str(np)}
    new = {"metadata": {"name": "web"}, "spec": {**svc["spec"], "externalTrafficPolicy": "Cluster"}}
    a.allocate(new, svc)
    a.release_unused(new, svc)
    assert "healthCheckNodePort" not in new["spec"]
    assert PORT_PREFIX + str(hc) not in store.keys and PORT_PREFIX + str(np) in store.keys


def test_a_node_port_service_gets_no_health_check_node_port():
    from kfs.apiserver.allocator import Allocator
    svc = {"metadata": {"name": "web"}, "spec": {
        "type": "NodePort", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}}
    Allocator(KeyStore()).allocate(svc)
    assert "healthCheckNodePort" not in svc["spec"]
