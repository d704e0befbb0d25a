"""Pods: defaults, QoS class, status writes, PodSpec validation, updates, the printed row (kfs/apiserver/kinds/pod.py)."""

import pytest

from kfs.apiserver.kinds import default
from kfs.apiserver.kinds.pod import image_tag, pod_qos_class
from tests.unit.kind_objects import (
    LABEL_MSG, SUBDOMAIN_MSG, TABLE_NOW, ago, cells, changed, column_names, created,
    defaulted, errors, pod, pod_with, stored, table,
    updated)


@pytest.mark.parametrize("field, value", [
    ("restartPolicy", "Always"),
    ("dnsPolicy", "ClusterFirst"),
    ("terminationGracePeriodSeconds", 30),
    ("schedulerName", "default-scheduler"),
    ("securityContext", {}),
    ("enableServiceLinks", True),
    ("priority", 0),
    ("preemptionPolicy", "PreemptLowerPriority"),
])
def test_a_bare_pod_spec_gets_upstreams_default(field, value):
    assert defaulted(pod())["spec"][field] == value


@pytest.mark.parametrize("field, value", [
    ("imagePullPolicy", "IfNotPresent"),
    ("terminationMessagePath", "/dev/termination-log"),
    ("terminationMessagePolicy", "File"),
    ("resources", {}),
])
def test_a_bare_container_gets_upstreams_default(field, value):
    assert defaulted(pod())["spec"]["containers"][0][field] == value


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"),
    ("nginx:latest", "Always"),
    ("nginx:1.25", "IfNotPresent"),
    ("localhost:5000/web", "Always"),
    ("localhost:5000/web:v1", "IfNotPresent"),
    ("web@sha256:" + "a" * 64, "IfNotPresent"),
    ("", "IfNotPresent"),
])
def test_image_pull_policy_is_always_only_for_latest_or_untagged_images(image, policy):
    p = pod()
    p["spec"]["containers"][0]["image"] = image
    assert defaulted(p)["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_image_tag_is_not_fooled_by_a_registry_port():
    assert image_tag("registry.local:5000/team/web") == "latest"


def test_defaults_never_overwrite_what_the_client_set():
    p = pod(restartPolicy="Never", dnsPolicy="Default", terminationGracePeriodSeconds=5)
    p["spec"]["containers"][0]["imagePullPolicy"] = "Never"
    default(p)
    assert (p["spec"]["restartPolicy"], p["spec"]["dnsPolicy"], p["spec"]["terminationGracePeriodSeconds"],
            p["spec"]["containers"][0]["imagePullPolicy"]) == ("Never", "Default", 5, "Never")


@pytest.mark.parametrize("probe, expected", [
    ({"exec": {"command": ["true"]}},
     {"exec": {"command": ["true"]}, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1,
      "failureThreshold": 3}),
    ({"httpGet": {"port": 80}},
     {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1, "periodSeconds": 10,
      "successThreshold": 1, "failureThreshold": 3}),
    ({"tcpSocket": {"port": 80}, "periodSeconds": 2},
     {"tcpSocket": {"port": 80}, "timeoutSeconds": 1, "periodSeconds": 2, "successThreshold": 1,
      "failureThreshold": 3}),
])
def test_probes_get_timeout_period_thresholds_and_http_get_path_and_scheme(probe, expected):
    p = pod()
    p["spec"]["containers"][0]["readinessProbe"] = probe
    assert defaulted(p)["spec"]["containers"][0]["readinessProbe"] == expected


def test_container_ports_default_to_tcp():
    p = pod()
    p["spec"]["containers"][0]["ports"] = [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]
    assert [x["protocol"] for x in defaulted(p)["spec"]["containers"][0]["ports"]] == ["TCP", "UDP"]


def test_env_field_ref_gets_api_version_v1():
    p = pod()
    p["spec"]["containers"][0]["env"] = [{"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    ref = defaulted(p)["spec"]["containers"][0]["env"][0]["valueFrom"]["fieldRef"]
    assert ref == {"fieldPath": "status.podIP", "apiVersion": "v1"}


def test_a_pods_limits_without_requests_become_its_requests():
    p = pod()
    p["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1", "memory": "64Mi"}, "requests": {"cpu": "100m"}}
    assert defaulted(p)["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "100m", "memory": "64Mi"}


@pytest.mark.parametrize("volume, expected", [
    ({"name": "scratch"}, {"name": "scratch", "emptyDir": {}}),
    ({"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "logs", "hostPath": {"path": "/var/log", "type": ""}}),
    ({"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}),
])
def test_volume_defaults(volume, expected):
    assert defaulted(pod(volumes=[volume]))["spec"]["volumes"] == [expected]


@pytest.mark.parametrize("resources, qos", [
    ([{}], "BestEffort"),
    ([{"requests": {"cpu": "100m"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}], "Guaranteed"),          # requests defaulted from limits
    ([{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}], "Burstable"),
    ([{"limits": {"cpu": "1"}}], "Burstable"),
    ([{"limits": {"cpu": "1", "memory": "1Gi"}}, {}], "Burstable"),
    ([{"requests": {"ephemeral-storage": "1Gi"}}], "BestEffort"),
])
def test_a_new_pods_qos_class_follows_its_requests_and_limits(resources, qos):
    assert created(pod_with(*resources))["status"]["qosClass"] == qos


def test_qos_class_of_an_undefaulted_pod():
    assert pod_qos_class(pod_with({"limits": {"cpu": "1", "memory": "1Gi"}})) == "Burstable"


def test_a_pod_status_write_keeps_the_owner_references_and_the_qos_class():
    old = created(pod_with())
    old["metadata"]["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "uid": "1", "controller": True}]
    new = updated(old, lambda p: (p["metadata"].pop("ownerReferences"), p.update(status={"phase": "Running"})),
                  "status")
    assert new["metadata"]["ownerReferences"] == old["metadata"]["ownerReferences"]
    assert new["status"] == {"phase": "Running", "qosClass": "BestEffort"}


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
    (pod(dnsPolicy="None"), "spec.dnsConfig", "FieldValueRequired",
     "Required value: must provide `dnsConfig` when `dnsPolicy` is None"),
    (pod(dnsPolicy="None", dnsConfig={"searches": ["a.example"]}), "spec.dnsConfig.nameservers",
     "FieldValueRequired", "Required value: must provide at least one DNS nameserver when "
     "`dnsPolicy` is None"),
    (pod(dnsConfig={"nameservers": ["dns.example"]}), "spec.dnsConfig.nameservers[0]",
     "FieldValueInvalid", 'Invalid value: "dns.example": must be a valid IP address, '
     "(e.g. 10.9.8.7 or 2001:db8::ffff)"),
    (pod(dnsConfig={"options": [{"value": "2"}]}), "spec.dnsConfig.options[0]",
     "FieldValueRequired", "Required value: must not be empty"),
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


def running(name="c", ready=True, restarts=0, **extra):
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {"startedAt": ago(hours=1)}},
            **extra}


def pod_with_status(status, containers=("c",), inits=(), deleting=False, **spec):
    md = {"name": "p", "creationTimestamp": ago(minutes=3, seconds=2)}
    if deleting:
        md["deletionTimestamp"] = ago(seconds=1)
    return {"metadata": md, "spec": {"containers": [{"name": c} for c in containers],
                                     "initContainers": [{"name": c} for c in inits], **spec}, "status": status}


@pytest.mark.parametrize("obj, status", [
    (pod_with_status({"phase": "Pending"}), "Pending"),
    (pod_with_status({"phase": "Running", "containerStatuses": [running()]}), "Running"),
    (pod_with_status({"phase": "Pending", "containerStatuses": [
        {"name": "c", "state": {"waiting": {"reason": "ContainerCreating"}}}]}), "ContainerCreating"),
    (pod_with_status({"phase": "Running", "containerStatuses": [
        {"name": "c", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}), "CrashLoopBackOff"),
    (pod_with_status({"phase": "Succeeded", "containerStatuses": [
        {"name": "c", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]}), "Completed"),
    (pod_with_status({"phase": "Failed", "containerStatuses": [
        {"name": "c", "state": {"terminated": {"exitCode": 137}}}]}), "ExitCode:137"),
    (pod_with_status({"phase": "Failed", "containerStatuses": [
        {"name": "c", "state": {"terminated": {"exitCode": 0, "signal": 9}}}]}), "Signal:9"),
    (pod_with_status({"phase": "Failed", "reason": "Evicted"}), "Evicted"),
    (pod_with_status({"phase": "Running", "containerStatuses": [running()]}, deleting=True), "Terminating"),
    (pod_with_status({"phase": "Succeeded"}, deleting=True), "Succeeded"),
    (pod_with_status({"phase": "Running", "reason": "NodeLost"}, deleting=True), "Unknown"),
    (pod_with_status({"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}, inits=("i", "j")),
     "Init:0/2"),
    (pod_with_status({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "state": {"terminated": {"exitCode": 0}}},
        {"name": "j", "state": {"waiting": {"reason": "ErrImagePull"}}}]}, inits=("i", "j")), "Init:ErrImagePull"),
    (pod_with_status({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "state": {"terminated": {"exitCode": 1}}}]}, inits=("i",)), "Init:ExitCode:1"),
    (pod_with_status({"phase": "Pending", "initContainerStatuses": [
        {"name": "i", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}]}, inits=("i",)), "Init:Error"),
    (pod_with_status({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                              "reason": "SchedulingGated"}]}), "SchedulingGated"),
    (pod_with_status({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [
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
    assert cells("pods", pod_with_status({"phase": "Running", "containerStatuses": statuses}, containers=("a", "b")))[1] == ready


def test_pod_restarts_say_when_the_last_container_restarted():
    st = running(restarts=3, lastState={"terminated": {"exitCode": 1, "finishedAt": ago(seconds=12)}})
    assert cells("pods", pod_with_status({"phase": "Running", "containerStatuses": [st]}))[3] == "3 (12s ago)"


def test_pod_restarts_without_a_last_state_are_a_bare_count():
    assert cells("pods", pod_with_status({"phase": "Running", "containerStatuses": [running(restarts=1)]}))[3] == "1"


def test_pod_wide_cells_show_ip_node_and_none_for_what_is_missing():
    row = cells("pods", pod_with_status({"phase": "Running", "podIPs": [{"ip": "10.1.0.2"}]}, nodeName="node1"))
    assert row[4:] == ["3m2s", "10.1.0.2", "node1", "<none>", "<none>"]


def test_pod_readiness_gates_count_true_conditions():
    obj = pod_with_status({"phase": "Running", "conditions": [{"type": "example.com/lb", "status": "True"}]},
              readinessGates=[{"conditionType": "example.com/lb"}, {"conditionType": "example.com/dns"}])
    assert cells("pods", obj)[8] == "1/2"


def test_rows_of_finished_pods_carry_a_completed_condition():
    row = table("pods", [pod_with_status({"phase": "Failed"})], now=TABLE_NOW)["rows"][0]
    assert row["conditions"] == [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def test_a_valid_pod_has_no_causes():
    assert errors(pod()) == []


@pytest.mark.parametrize("name, message", [
    ("Web_1", f'Invalid value: "Web_1": {SUBDOMAIN_MSG}'),
    ("x" * 254, f'Invalid value: "{"x" * 254}": must be no more than 253 characters'),
])
def test_a_pods_name_is_a_dns_subdomain(name, message):
    p = pod()
    p["metadata"]["name"] = name
    assert errors(p)[0] == ("metadata.name", "FieldValueInvalid", message)


def test_pods_have_upstreams_columns_with_wide_ones_at_priority_1():
    assert column_names("pods") == (["Name", "Ready", "Status", "Restarts", "Age"],
                                    ["IP", "Node", "Nominated Node", "Readiness Gates"])
