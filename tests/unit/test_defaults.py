import copy

import pytest

from kfs.apiserver.kinds import default
from kfs.apiserver.kinds.pod import image_tag


def pod(**spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec}}


def deployment(**spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def service(**spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}


def defaulted(obj):
    default(obj)
    return obj


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


def test_defaulting_twice_changes_nothing_more():
    once = defaulted(deployment())
    assert defaulted(copy.deepcopy(once)) == once


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


def test_a_templates_limits_do_not_become_requests():
    d = deployment()
    d["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    assert "requests" not in defaulted(d)["spec"]["template"]["spec"]["containers"][0]["resources"]


@pytest.mark.parametrize("volume, expected", [
    ({"name": "scratch"}, {"name": "scratch", "emptyDir": {}}),
    ({"name": "logs", "hostPath": {"path": "/var/log"}}, {"name": "logs", "hostPath": {"path": "/var/log", "type": ""}}),
    ({"name": "cfg", "configMap": {"name": "cfg"}}, {"name": "cfg", "configMap": {"name": "cfg", "defaultMode": 420}}),
])
def test_volume_defaults(volume, expected):
    assert defaulted(pod(volumes=[volume]))["spec"]["volumes"] == [expected]


@pytest.mark.parametrize("field, value", [
    ("replicas", 1),
    ("strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
    ("revisionHistoryLimit", 10),
    ("progressDeadlineSeconds", 600),
])
def test_a_deployment_gets_upstreams_default(field, value):
    assert defaulted(deployment())["spec"][field] == value


def test_a_recreate_deployment_gets_no_rolling_update_parameters():
    assert defaulted(deployment(strategy={"type": "Recreate"}))["spec"]["strategy"] == {"type": "Recreate"}


def test_a_partial_rolling_update_keeps_the_given_value():
    d = defaulted(deployment(strategy={"rollingUpdate": {"maxSurge": 1}}))
    assert d["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": "25%"}


def test_a_deployment_template_gets_pod_spec_defaults_but_not_the_pod_only_ones():
    spec = defaulted(deployment())["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Always" and spec["containers"][0]["imagePullPolicy"] == "Always"
    assert "enableServiceLinks" not in spec and "priority" not in spec


def test_a_replicaset_gets_one_replica_and_template_defaults():
    rs = deployment()
    rs["kind"] = "ReplicaSet"
    default(rs)
    assert rs["spec"]["replicas"] == 1 and rs["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "strategy" not in rs["spec"]


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


def test_endpoint_ports_default_to_tcp():
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
          "subsets": [{"addresses": [{"ip": "10.1.0.2"}], "ports": [{"port": 80}]}]}
    assert defaulted(ep)["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]


def test_a_namespace_is_active_and_labelled_with_its_name():
    ns = defaulted({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}})
    assert ns["status"] == {"phase": "Active"}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team-a"}


def test_a_nodes_allocatable_defaults_to_its_capacity():
    node = defaulted({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node1"},
                      "status": {"capacity": {"cpu": "2", "pods": "110"}}})
    assert node["status"]["allocatable"] == {"cpu": "2", "pods": "110"}


@pytest.mark.parametrize("kind, api_group", [("User", "rbac.authorization.k8s.io"),
                                             ("Group", "rbac.authorization.k8s.io"), ("ServiceAccount", "")])
def test_binding_subjects_get_their_kinds_api_group(kind, api_group):
    b = defaulted({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "b", "namespace": "default"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
                   "subjects": [{"kind": kind, "name": "x"}]})
    assert b["subjects"][0]["apiGroup"] == api_group


def test_kinds_without_defaults_are_left_alone():
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "l"}, "spec": {}}
    assert defaulted(copy.deepcopy(lease)) == lease
