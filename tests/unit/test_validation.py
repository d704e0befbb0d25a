import copy

import pytest

from kfs.apiserver.kinds import default, validate
from kfs.apiserver.validation import invalid_message
from tests.unit.test_defaults import deployment, pod, service

SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def rbac(kind, **body):
    md = {"name": "x"} if kind.startswith("Cluster") else {"name": "x", "namespace": "default"}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": md, **body}


def endpointslice(**body):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-abcde", "namespace": "default"},
            **{"addressType": "IPv4", **body}}


def errors(obj, old=None, subresource=None):
    default(obj)
    return [(c["field"], c["reason"], c["message"]) for c in validate(obj, old, subresource)]


VALID = [
    pod(),
    deployment(),
    {**deployment(), "kind": "ReplicaSet"},
    service(),
    service(type="NodePort", ports=[{"port": 80, "nodePort": 30080}]),
    service(clusterIP="None", ports=[]),
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
     "subsets": [{"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 8080}]}]},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "web-abcde", "namespace": "default"}, "addressType": "IPv4",
     "endpoints": [{"addresses": ["10.1.0.2"], "conditions": {"ready": True}, "nodeName": "node1"}],
     "ports": [{"name": "http", "port": 8080}]},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"}, "spec": {"podCIDRs": ["10.1.1.0/24"]}},
    {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "node1", "namespace": "kube-node-lease"},
     "spec": {"holderIdentity": "node1", "leaseDurationSeconds": 40}},
    {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.17a", "namespace": "default"},
     "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Scheduled"},
    rbac("Role", rules=[{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]),
    rbac("ClusterRole", rules=[{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]),
    rbac("RoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
         subjects=[{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "default"}]),
    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
     "target": {"apiVersion": "v1", "kind": "Node", "name": "node1"}},
    {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"},
     "spec": {"replicas": 3}},
]


@pytest.mark.parametrize("obj", VALID, ids=lambda o: o["kind"])
def test_a_valid_object_has_no_causes(obj):
    assert errors(copy.deepcopy(obj)) == []


def test_kinds_kfs_does_not_know_validate_clean():
    assert validate({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}}) == []


def test_a_cause_is_in_the_wire_format_of_status_details():
    p = pod()
    del p["spec"]["containers"][0]["image"]
    assert validate(p) == [{"reason": "FieldValueRequired", "message": "Required value",
                            "field": "spec.containers[0].image"}]


@pytest.mark.parametrize("obj, name, message", [
    (pod(), "Web_1", f'Invalid value: "Web_1": {SUBDOMAIN_MSG}'),
    (service(), "1web", f'Invalid value: "1web": {DNS1035_MSG}'),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}, "a.b", 'Invalid value: "a.b": must not contain dots'),
    ({"apiVersion": "v1", "kind": "Namespace", "metadata": {}}, "A", f'Invalid value: "A": {LABEL_MSG}'),
    (pod(), "x" * 254, f'Invalid value: "{"x" * 254}": must be no more than 253 characters'),
    (rbac("ClusterRole"), "a/b", "Invalid value: \"a/b\": may not contain '/'"),
])
def test_names_follow_the_kinds_rule_with_upstreams_message(obj, name, message):
    obj["metadata"]["name"] = name
    assert errors(obj)[0] == ("metadata.name", "FieldValueInvalid", message)


def test_a_missing_name_is_required_with_generate_name_as_the_alternative():
    p = pod()
    del p["metadata"]["name"]
    assert errors(p) == [("metadata.name", "FieldValueRequired", "Required value: name or generateName is required")]


def test_generate_name_may_end_in_a_dash():
    p = pod()
    p["metadata"]["generateName"] = "web-"
    assert errors(p) == []


def test_a_namespaced_kind_needs_a_namespace():
    p = pod()
    del p["metadata"]["namespace"]
    assert errors(p) == [("metadata.namespace", "FieldValueRequired", "Required value")]


@pytest.mark.parametrize("labels, expected", [
    ({"app": "web", "example.com/tier": "front", "empty": ""}, []),
    ({"a/b/c": "x"}, [("metadata.labels", "FieldValueInvalid",
                       "Invalid value: \"a/b/c\": a qualified name must consist of alphanumeric characters, '-', "
                       "'_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or "
                       "'my.name',  or '123-abc', regex used for validation is "
                       "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
                       "(e.g. 'example.com/MyName')")]),
    ({"app": "v" * 64}, [("metadata.labels", "FieldValueInvalid",
                          f'Invalid value: "{"v" * 64}": must be no more than 63 characters')]),
    ({"/app": "x"}, [("metadata.labels", "FieldValueInvalid", 'Invalid value: "/app": prefix part must be non-empty')]),
])
def test_label_keys_are_qualified_names_and_values_at_most_63_characters(labels, expected):
    p = pod()
    p["metadata"]["labels"] = labels
    assert errors(p) == expected


def test_annotation_keys_are_qualified_names_whatever_their_case():
    p = pod()
    p["metadata"]["annotations"] = {"Example.COM/Note": "anything goes here: { }", "bad key": "x"}
    assert [e[1] for e in errors(p)] == ["FieldValueInvalid"] and "bad key" in errors(p)[0][2]


def containers(**c):
    return pod(containers=[{"name": "c", "image": "busybox", **c}])


@pytest.mark.parametrize("obj, field, reason, message", [
    (pod(containers=[]), "spec.containers", "FieldValueRequired", "Required value"),
    (pod(containers=[{"image": "x"}]), "spec.containers[0].name", "FieldValueRequired", "Required value"),
    (pod(containers=[{"name": "Web", "image": "x"}]), "spec.containers[0].name", "FieldValueInvalid",
     f'Invalid value: "Web": {LABEL_MSG}'),
    (pod(containers=[{"name": "c", "image": "x"}, {"name": "c", "image": "y"}]), "spec.containers[1].name",
     "FieldValueDuplicate", 'Duplicate value: "c"'),
    (containers(image=" x"), "spec.containers[0].image", "FieldValueInvalid",
     'Invalid value: " x": must not have leading or trailing whitespace'),
    (containers(ports=[{"containerPort": 70000}]), "spec.containers[0].ports[0].containerPort",
     "FieldValueInvalid", "Invalid value: 70000: must be between 1 and 65535, inclusive"),
    (containers(ports=[{"containerPort": 80, "protocol": "HTTP"}]), "spec.containers[0].ports[0].protocol",
     "FieldValueNotSupported", 'Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"'),
    (containers(ports=[{"containerPort": 80, "name": "web"}, {"containerPort": 81, "name": "web"}]),
     "spec.containers[0].ports[1].name", "FieldValueDuplicate", 'Duplicate value: "web"'),
    (containers(ports=[{"containerPort": 80, "name": "http_1"}]), "spec.containers[0].ports[0].name",
     "FieldValueInvalid", 'Invalid value: "http_1": must contain only alpha-numeric characters (a-z, 0-9), '
     "and hyphens (-)"),
    (containers(env=[{"name": "A=B", "value": "x"}]), "spec.containers[0].env[0].name", "FieldValueInvalid",
     "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters "
     "other than '='"),
    (containers(env=[{"value": "x"}]), "spec.containers[0].env[0].name", "FieldValueRequired", "Required value"),
    (containers(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "500m"}}),
     "spec.containers[0].resources.requests", "FieldValueInvalid",
     'Invalid value: "2": must be less than or equal to cpu limit of 500m'),
    (containers(resources={"limits": {"memory": "lots"}}), "spec.containers[0].resources.limits[memory]",
     "FieldValueInvalid", "Invalid value: \"lots\": quantities must match the regular expression "
     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    (containers(resources={"limits": {"gpu": "1"}}), "spec.containers[0].resources.limits[gpu]",
     "FieldValueInvalid", 'Invalid value: "gpu": must be a standard resource for containers'),
    (containers(resources={"requests": {"cpu": "-1"}}), "spec.containers[0].resources.requests[cpu]",
     "FieldValueInvalid", 'Invalid value: "-1": must be greater than or equal to 0'),
    (pod(restartPolicy="Sometimes"), "spec.restartPolicy", "FieldValueNotSupported",
     'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'),
    (containers(volumeMounts=[{"name": "data", "mountPath": "/data"}]), "spec.containers[0].volumeMounts[0].name",
     "FieldValueNotFound", 'Not found: "data"'),
    (pod(volumes=[{"name": "v"}, {"name": "v"}]), "spec.volumes[1].name", "FieldValueDuplicate", 'Duplicate value: "v"'),
    (pod(volumes=[{"name": "v", "hostPath": {"path": "/x", "type": "Dir"}}]), "spec.volumes[0].hostPath.type",
     "FieldValueNotSupported", 'Unsupported value: "Dir": supported values: "", "BlockDevice", "CharDevice", '
     '"Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"'),
    (pod(volumes=[{"name": "v", "hostPath": {}}]), "spec.volumes[0].hostPath.path", "FieldValueRequired",
     "Required value"),
    (pod(volumes=[{"name": "v", "emptyDir": {}, "hostPath": {"path": "/x"}}]), "spec.volumes[0].hostPath",
     "FieldValueForbidden", "Forbidden: may not specify more than 1 volume type"),
    (containers(livenessProbe={"periodSeconds": 5}), "spec.containers[0].livenessProbe", "FieldValueRequired",
     "Required value: must specify a handler type"),
    (containers(readinessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 80}}),
     "spec.containers[0].readinessProbe.tcpSocket", "FieldValueForbidden",
     "Forbidden: may not specify more than 1 handler type"),
    (containers(livenessProbe={"tcpSocket": {"port": 80}, "successThreshold": 2}),
     "spec.containers[0].livenessProbe.successThreshold", "FieldValueInvalid", "Invalid value: 2: must be 1"),
    (containers(readinessProbe={"httpGet": {"port": 0}}), "spec.containers[0].readinessProbe.httpGet.port",
     "FieldValueInvalid", "Invalid value: 0: must be between 1 and 65535, inclusive"),
])
def test_pod_spec_errors_name_the_field_at_fault_as_upstream(obj, field, reason, message):
    assert (field, reason, message) in errors(obj)


def test_mounts_may_refer_to_a_declared_volume():
    p = containers(volumeMounts=[{"name": "data", "mountPath": "/data"}])
    p["spec"]["volumes"] = [{"name": "data", "emptyDir": {}}]
    assert errors(p) == []


def test_two_containers_may_not_claim_the_same_host_port():
    p = pod(containers=[{"name": "a", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]},
                        {"name": "b", "image": "x", "ports": [{"containerPort": 81, "hostPort": 8080}]}])
    assert errors(p) == [("spec.containers[1].ports[0].hostPort", "FieldValueDuplicate", 'Duplicate value: "TCP//8080"')]


@pytest.mark.parametrize("obj, field, reason, message", [
    (deployment(replicas=-1), "spec.replicas", "FieldValueInvalid",
     "Invalid value: -1: must be greater than or equal to 0"),
    (deployment(selector={}), "spec.selector", "FieldValueInvalid",
     "Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
     "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for deployment"),
    (deployment(selector={"matchExpressions": [{"key": "app", "operator": "Near", "values": ["x"]}]}),
     "spec.selector.matchExpressions[0].operator", "FieldValueInvalid",
     'Invalid value: "Near": not a valid selector operator'),
    (deployment(strategy={"type": "Canary"}), "spec.strategy", "FieldValueNotSupported",
     'Unsupported value: apps.DeploymentStrategy{Type:"Canary", '
     'RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: "Recreate", "RollingUpdate"'),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
     "Invalid value: 0: may not be 0 when `maxSurge` is 0"),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}),
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
     "Invalid value: 0%: may not be 0 when `maxSurge` is 0"),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "150%"}}),
     "spec.strategy.rollingUpdate.maxUnavailable", "FieldValueInvalid",
     "Invalid value: 150%: must not be greater than 100%"),
    (deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "half"}}),
     "spec.strategy.rollingUpdate.maxSurge", "FieldValueInvalid",
     "Invalid value: half: a valid percent string must be a numeric string followed by an ending '%' "
     "(e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
    (deployment(strategy={"type": "Recreate", "rollingUpdate": {}}), "spec.strategy.rollingUpdate",
     "FieldValueForbidden", "Forbidden: may not be specified when strategy `type` is 'Recreate'"),
    (deployment(progressDeadlineSeconds=5, minReadySeconds=10), "spec.progressDeadlineSeconds",
     "FieldValueInvalid", "Invalid value: 5: must be greater than minReadySeconds"),
])
def test_deployment_errors_name_the_field_at_fault_as_upstream(obj, field, reason, message):
    assert (field, reason, message) in errors(obj)


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_template_must_run_its_pods_with_restart_policy_always(kind):
    d = deployment()
    d["kind"] = kind
    d["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    assert errors(d) == [("spec.template.spec.restartPolicy", "FieldValueNotSupported",
                          'Unsupported value: "Never": supported values: "Always"')]


def test_the_selector_must_select_the_templates_labels():
    d = deployment()
    d["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    assert errors(d) == [("spec.template.metadata.labels", "FieldValueInvalid",
                          'Invalid value: map[string]string{"app":"x"}: `selector` does not match template `labels`')]


def test_a_missing_selector_is_required_and_so_selects_no_template():
    d = deployment()
    del d["spec"]["selector"]
    assert [e[0] for e in errors(d)] == ["spec.selector", "spec.template.metadata.labels"]


def test_template_labels_are_checked_at_upstreams_odd_path():
    d = deployment(selector={"matchLabels": {"app": "w"}})
    d["spec"]["template"]["metadata"]["labels"] = {"app": "w", "bad key": "x"}
    assert errors(d)[0][0] == "spec.template.labels"


def test_template_pod_spec_errors_are_under_spec_template_spec():
    d = deployment()
    del d["spec"]["template"]["spec"]["containers"][0]["image"]
    assert errors(d) == [("spec.template.spec.containers[0].image", "FieldValueRequired", "Required value")]


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


@pytest.mark.parametrize("ip, message", [
    ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
    ("169.254.1.1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("10.1.2", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
])
def test_endpoints_addresses_are_routable_ips(ip, message):
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web", "namespace": "default"},
          "subsets": [{"addresses": [{"ip": ip}], "ports": [{"port": 80}]}]}
    assert errors(ep) == [("subsets[0].addresses[0].ip", "FieldValueInvalid", f'Invalid value: "{ip}": {message}')]


@pytest.mark.parametrize("obj, field, message", [
    ({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
      "target": {"kind": "Node"}}, "target.name", "Required value"),
    ({"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "p", "namespace": "default"},
      "target": {"kind": "Pod", "name": "x"}}, "target.kind",
     'Unsupported value: "Pod": supported values: "Node", "<empty>"'),
    ({"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": {"name": "web", "namespace": "default"},
      "spec": {"replicas": -2}}, "spec.replicas", "Invalid value: -2: must be greater than or equal to 0"),
    ({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l", "namespace": "default"},
      "spec": {"leaseDurationSeconds": 0}}, "spec.leaseDurationSeconds", "Invalid value: 0: must be greater than 0"),
    (endpointslice(addressType="IPv5"), "addressType",
     'Unsupported value: "IPv5": supported values: "FQDN", "IPv4", "IPv6"'),
    (endpointslice(endpoints=[{"addresses": ["fd00::1"]}]), "endpoints[0].addresses[0]",
     'Invalid value: "fd00::1": must be an IPv4 address'),
    (endpointslice(endpoints=[{"addresses": []}]), "endpoints[0].addresses",
     "Required value: must contain at least 1 address"),
    (endpointslice(endpoints=[{"addresses": ["10.1.0.2"]}] * 1001), "endpoints",
     "Too many: 1001: must have at most 1000 items"),
    (endpointslice(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}]), "ports[1].name",
     'Duplicate value: "http"'),
    ({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.1.1.0"]}},
     "spec.podCIDRs[0]", 'Invalid value: "10.1.1.0": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)'),
    ({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
      "involvedObject": {"kind": "Pod", "name": "p", "namespace": "kube-system"}}, "involvedObject.namespace",
     'Invalid value: "kube-system": does not match event.namespace'),
    (rbac("Role", rules=[{"apiGroups": [""], "resources": ["pods"]}]), "rules[0].verbs",
     "Required value: verbs must contain at least one value"),
    (rbac("Role", rules=[{"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]), "rules[0].nonResourceURLs",
     'Invalid value: []string{"/healthz"}: namespaced rules cannot apply to non-resource URLs'),
    (rbac("ClusterRoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}),
     "roleRef.kind", 'Unsupported value: "Role": supported values: "ClusterRole"'),
    (rbac("ClusterRoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "r"},
          subjects=[{"kind": "ServiceAccount", "name": "default"}]), "subjects[0].namespace", "Required value"),
])
def test_other_kinds_errors_name_the_field_at_fault_as_upstream(obj, field, message):
    assert field in [e[0] for e in errors(obj)] and (field, message) in [(e[0], e[2]) for e in errors(obj)]


# -- updates ---------------------------------------------------------------------------------

def stored(obj):
    default(obj)
    obj["metadata"].update(uid="u-1", resourceVersion="5", creationTimestamp="2024-01-01T00:00:00Z")
    return obj


def changed(obj, fn):
    new = copy.deepcopy(obj)
    fn(new)
    return new


def test_a_pods_image_may_change():
    old = stored(pod())
    assert errors(changed(old, lambda p: p["spec"]["containers"][0].update(image="busybox:2")), old) == []


def test_a_pods_other_fields_may_not_change_with_upstreams_message():
    old = stored(pod())
    new = changed(old, lambda p: p["spec"]["containers"][0].update(ports=[{"containerPort": 80}]))
    (field, reason, message), = errors(new, old)
    assert (field, reason) == ("spec", "FieldValueForbidden")
    assert message.startswith(
        "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
        "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
        "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
        "previously negative)\n  core.PodSpec{")
    assert '- \tcontainers: [{"image"' in message


def test_a_pod_update_may_not_add_containers():
    old = stored(pod())
    new = changed(old, lambda p: p["spec"]["containers"].append({"name": "d", "image": "x"}))
    assert ("spec.containers", "FieldValueForbidden",
            "Forbidden: pod updates may not add or remove containers") in errors(new, old)


def test_a_pod_may_gain_tolerations_but_not_lose_them():
    old = stored(pod(tolerations=[{"key": "a", "operator": "Exists"}]))
    more = changed(old, lambda p: p["spec"]["tolerations"].append({"key": "b", "operator": "Exists"}))
    fewer = changed(old, lambda p: p["spec"].update(tolerations=[]))
    assert errors(more, old) == []
    assert ("spec.tolerations", "FieldValueForbidden",
            "Forbidden: existing toleration can not be modified except its tolerationSeconds") in errors(fewer, old)


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet"])
def test_a_workloads_selector_is_immutable_in_apps_v1(kind):
    old = deployment()
    old["kind"] = kind
    stored(old)

    def relabel(d):
        d["spec"]["selector"] = {"matchLabels": {"app": "web2"}}
        d["spec"]["template"]["metadata"]["labels"] = {"app": "web2"}
    assert errors(changed(old, relabel), old) == [(
        "spec.selector", "FieldValueInvalid",
        'Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable")]


def test_a_deployments_replicas_and_template_may_change():
    old = stored(deployment())
    new = changed(old, lambda d: (d["spec"].update(replicas=5),
                                  d["spec"]["template"]["spec"]["containers"][0].update(image="nginx:2")))
    assert errors(new, old) == []


def test_a_services_cluster_ip_may_not_change_once_set():
    old = stored(service(clusterIP="10.96.0.10", clusterIPs=["10.96.0.10"]))
    new = changed(old, lambda s: s["spec"].update(clusterIP="10.96.0.11", clusterIPs=["10.96.0.11"]))
    assert errors(new, old) == [("spec.clusterIPs[0]", "FieldValueInvalid",
                                 'Invalid value: []string{"10.96.0.11"}: may not change once set')]


@pytest.mark.parametrize("field, value", [("name", "other"), ("namespace", "other"), ("uid", "u-2")])
def test_identity_metadata_is_immutable(field, value):
    old = stored(pod())
    new = changed(old, lambda p: p["metadata"].update({field: value}))
    assert (f"metadata.{field}", "FieldValueInvalid", f'Invalid value: "{value}": field is immutable') in errors(new, old)


def test_an_endpointslices_address_type_is_immutable():
    old = stored(endpointslice())
    new = changed(old, lambda s: s.update(addressType="IPv6"))
    assert errors(new, old) == [("addressType", "FieldValueInvalid", 'Invalid value: "IPv6": field is immutable')]


def test_a_role_bindings_role_ref_is_immutable():
    old = stored(rbac("RoleBinding", roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "a"}))
    new = changed(old, lambda b: b["roleRef"].update(name="b"))
    assert errors(new, old) == [("roleRef", "FieldValueInvalid",
                                 'Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"Role", '
                                 'Name:"b"}: cannot change roleRef')]


def test_a_nodes_pod_cidr_may_be_set_once():
    old = stored({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {}})
    first = changed(old, lambda n: n["spec"].update(podCIDRs=["10.1.1.0/24"]))
    again = changed(first, lambda n: n["spec"].update(podCIDRs=["10.1.2.0/24"]))
    assert errors(first, old) == []
    assert errors(again, first) == [("spec.podCIDRs", "FieldValueForbidden",
                                     'Forbidden: node updates may not change podCIDR except from "" to valid')]


def test_a_status_write_checks_the_status_not_the_spec():
    old = stored(deployment())
    new = changed(old, lambda d: (d["spec"].update(replicas=-5), d.update(status={"replicas": 1, "readyReplicas": 2})))
    assert errors(new, old, subresource="status") == [
        ("status.readyReplicas", "FieldValueInvalid", "Invalid value: 2: cannot be greater than status.replicas")]


# -- the Status message ---------------------------------------------------------------------------

def test_invalid_message_for_one_cause_is_upstreams():
    d = deployment()
    d["spec"]["template"]["metadata"]["labels"] = {"app": "x"}
    default(d)
    assert invalid_message("Deployment", "web", validate(d)) == (
        'Deployment.apps "web" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"x"}: `selector` does not match template `labels`')


def test_invalid_message_for_several_causes_is_a_bracketed_list_without_repeats():
    causes = [{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"},
              {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.b"},
              {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.a"}]
    assert invalid_message("Pod", "p", causes) == 'Pod "p" is invalid: [spec.a: Required value, spec.b: Required value]'


@pytest.mark.parametrize("kind, group, qualified", [
    ("Pod", None, "Pod"), ("ReplicaSet", None, "ReplicaSet.apps"),
    ("ClusterRole", None, "ClusterRole.rbac.authorization.k8s.io"), ("Scale", "autoscaling", "Scale.autoscaling"),
])
def test_invalid_message_qualifies_the_kind_with_its_group(kind, group, qualified):
    assert invalid_message(kind, "x", [], group=group) == f'{qualified} "x" is invalid'
