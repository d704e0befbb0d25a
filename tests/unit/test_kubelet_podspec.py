"""From a pod spec to runtime configs: command, env, volumes, resources, host ports."""
import pytest

from kfs.kubelet import manifest, podspec, runtime as rt


def pod(containers, volumes=None, **spec):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
         "spec": {"containers": containers, "volumes": volumes or [], **spec}}
    return manifest.static_pod(p, "node1", "file", "x")


def config(p, tmp_path, i=0):
    return podspec.container_config(p, p["spec"]["containers"][i], 0, "172.17.0.5",
                                    "192.168.56.11", tmp_path)


def volume_mounts(c):
    """The container's mounts but the managed /etc/hosts."""
    return [m for m in c.mounts if m[1] != "/etc/hosts"]


def test_command_and_args_replace_entrypoint_and_cmd_with_variables_expanded(tmp_path):
    p = pod([{"name": "c", "image": "i:1", "command": ["sh", "-c"],
              "args": ["echo $(GREETING) $(UNKNOWN) $$(ESCAPED)"],
              "env": [{"name": "GREETING", "value": "hello"}]}])
    c = config(p, tmp_path)
    assert c.command == ["sh", "-c"]
    assert c.args == ["echo hello $(UNKNOWN) $(ESCAPED)"]


def test_no_command_keeps_the_images_entrypoint(tmp_path):
    c = config(pod([{"name": "c", "image": "i:1"}]), tmp_path)
    assert c.command is None and c.args is None


def test_env_values_refer_to_earlier_ones_and_the_downward_api(tmp_path):
    p = pod([{"name": "c", "image": "i:1", "env": [
        {"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-y"},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}}]}])
    assert config(p, tmp_path).env == {"A": "x", "B": "x-y", "POD_IP": "172.17.0.5",
                                       "NODE": "node1", "APP": "web"}


def test_an_unsupported_env_source_is_a_config_error(tmp_path):
    p = pod([{"name": "c", "image": "i:1", "env": [
        {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]}])
    with pytest.raises(podspec.ConfigError, match="secretKeyRef"):
        config(p, tmp_path)


def test_an_empty_dir_is_a_directory_under_the_pod_shared_by_its_containers(tmp_path):
    mount = [{"name": "data", "mountPath": "/data"}]
    p = pod([{"name": "a", "image": "i:1", "volumeMounts": mount},
             {"name": "b", "image": "i:1", "volumeMounts": mount}],
            volumes=[{"name": "data", "emptyDir": {}}])
    (host_a, path, ro), = volume_mounts(config(p, tmp_path, 0))
    (host_b, _, _), = volume_mounts(config(p, tmp_path, 1))
    assert host_a == host_b == str(tmp_path / "pods" / p["metadata"]["uid"] / "volumes" /
                                   "kubernetes.io~empty-dir" / "data")
    assert path == "/data" and not ro


def test_host_path_directory_or_create_creates_it_and_directory_requires_it(tmp_path):
    p = pod([{"name": "a", "image": "i:1",
              "volumeMounts": [{"name": "h", "mountPath": "/h", "readOnly": True}]}],
            volumes=[{"name": "h", "hostPath": {"path": str(tmp_path / "made"),
                                                "type": "DirectoryOrCreate"}}])
    assert volume_mounts(config(p, tmp_path)) == [(str(tmp_path / "made"), "/h", True)]
    assert (tmp_path / "made").is_dir()
    p["spec"]["volumes"][0]["hostPath"] = {"path": str(tmp_path / "nope"), "type": "Directory"}
    with pytest.raises(podspec.ConfigError, match="not a directory"):
        config(p, tmp_path)


def test_cpu_and_memory_limits_become_docker_quota_shares_and_memory(tmp_path):
    p = pod([{"name": "c", "image": "i:1", "resources": {
        "requests": {"cpu": "250m"}, "limits": {"cpu": "500m", "memory": "64Mi"}}}])
    c = config(p, tmp_path)
    assert (c.nano_cpus, c.cpu_shares, c.memory_limit) == (500_000_000, 256, 64 * 2**20)


def test_host_ports_are_published_on_the_sandbox_whose_hostname_is_the_pod_name():
    p = pod([{"name": "c", "image": "i:1",
              "ports": [{"containerPort": 8080, "hostPort": 30080}, {"containerPort": 9090}]}])
    s = podspec.sandbox_config(p, 0)
    assert s.hostname == "web-node1"
    assert s.port_mappings == [(8080, "TCP", 30080, "")]
    assert s.labels["app"] == "web" and s.labels[rt.CONTAINER_NAME] == "POD"


def test_the_container_hash_changes_with_the_spec():
    a = {"name": "c", "image": "i:1"}
    assert podspec.container_hash(a) == podspec.container_hash(dict(a))
    assert podspec.container_hash(a) != podspec.container_hash({**a, "image": "i:2"})


@pytest.mark.parametrize("resources,qos", [
    ({}, "BestEffort"),
    ({"requests": {"cpu": "1"}}, "Burstable"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed"),
    ({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "500m"}}, "Burstable")])
def test_qos_class(resources, qos):
    assert podspec.qos_class(pod([{"name": "c", "image": "i:1", "resources": resources}])) == qos
