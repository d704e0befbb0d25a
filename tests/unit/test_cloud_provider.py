"""The cloud provider interface: provider IDs, the registry, the netns lab's provider."""
import json

import pytest

from kfs.cloud import cloud, netns
from tests.unit.cloud_fakes import RecordingForwarder, fake_cloud


def node(name, provider_id=None, internal=None):
    n = {"metadata": {"name": name}, "spec": {}, "status": {}}
    if provider_id:
        n["spec"]["providerID"] = provider_id
    if internal:
        n["status"]["addresses"] = [{"type": "InternalIP", "address": internal}]
    return n


def service(name="web", uid="0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ports=None, **spec):
    return {"metadata": {"name": name, "namespace": "default", "uid": uid},
            "spec": {"type": "LoadBalancer", "ports": ports or [
                {"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}], **spec}}


def test_provider_ids_name_the_lab_and_the_machine():
    assert cloud.provider_id("kfs", "node1") == "kfs://kfs/node1"
    assert cloud.parse_provider_id("kfs://kfs/node1") == ("kfs", "node1")


@pytest.mark.parametrize("text", ["aws:///us-east-1a/i-0abc", "kfs://lab", "kfs:///node1", ""])
def test_a_foreign_provider_id_is_refused_naming_the_expected_form(text):
    with pytest.raises(ValueError, match="kfs://<lab>/<machine>"):
        cloud.parse_provider_id(text)


def test_the_registry_makes_providers_by_name_and_names_the_known_ones():
    assert cloud.get_cloud_provider("vagrant").provider_name() == "vagrant"
    with pytest.raises(ValueError, match="known: netns, vagrant"):
        cloud.get_cloud_provider("aws")


def test_the_load_balancer_name_is_a_plus_the_uid_without_dashes_cut_at_32():
    assert cloud.default_load_balancer_name(service()) == "a0f1e2d3c4b5a69788796a5b4c3d2e1f"


def test_instance_metadata_gives_provider_id_addresses_type_and_zone():
    c, _, _ = fake_cloud("cp", "node1")
    md = c.instance_metadata(node("node1"))
    assert md.provider_id == "kfs://lab/node1" and md.instance_type == "netns"
    assert md.node_addresses == [{"type": "InternalIP", "address": "192.168.56.11"},
                                 {"type": "Hostname", "address": "node1"}]
    assert (md.zone, md.region) == ("lab-b", "lab")
    assert c.get_zone_by_provider_id("kfs://lab/cp") == cloud.Zone("lab-a", "lab")


def test_an_instance_that_is_gone_does_not_exist_and_has_no_metadata():
    c, inventory, _ = fake_cloud("cp", "node1")
    inventory.remove("node1")
    assert c.instance_exists(node("node1")) is False
    with pytest.raises(cloud.InstanceNotFound, match="node1"):
        c.instance_metadata(node("node1"))


def test_a_stopped_machine_exists_and_is_shut_down():
    c, inventory, _ = fake_cloud("cp", "node1")
    assert c.instance_shutdown(node("node1")) is False
    inventory.stop("node1")
    assert c.instance_exists(node("node1")) and c.instance_shutdown(node("node1"))


def test_instances_are_found_by_provider_id_before_name():
    c, _, _ = fake_cloud("cp", "node1")
    assert c.instance_exists(node("renamed", "kfs://lab/node1"))
    assert not c.instance_exists(node("node1", "kfs://otherlab/node1"))


def test_a_load_balancer_gets_the_first_pool_address_and_every_node_as_backend():
    c, _, fwd = fake_cloud("cp", "node1", "node2")
    nodes = [node("node2", internal="192.168.56.12"), node("node1", internal="192.168.56.11")]
    status = c.ensure_load_balancer("kfs", service(), nodes)
    assert status == {"ingress": [{"ip": "192.168.56.200", "ipMode": "VIP"}]}
    assert fwd.serving["a0f1e2d3c4b5a69788796a5b4c3d2e1f"] == {
        "address": "192.168.56.200", "backends": ["192.168.56.11", "192.168.56.12"],
        "ports": [{"protocol": "TCP", "port": 80, "nodePort": 30080}],
        "health_check_port": 10256}
    assert c.get_load_balancer("kfs", service()) == (status, True)


def test_ensuring_twice_keeps_the_address_and_a_second_service_gets_the_next():
    c, _, _ = fake_cloud("cp")
    first = c.ensure_load_balancer("kfs", service(), [])
    assert c.ensure_load_balancer("kfs", service(), []) == first
    other = c.ensure_load_balancer("kfs", service("api", uid="1111"), [])
    assert other["ingress"][0]["ip"] == "192.168.56.201"


def test_the_address_in_the_services_status_or_spec_is_kept_when_free():
    c, _, _ = fake_cloud("cp")
    restarted = service(uid="2222")
    restarted["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.56.207"}]}}
    assert c.ensure_load_balancer("kfs", restarted, [])["ingress"][0]["ip"] == "192.168.56.207"
    asked = service(uid="3333", loadBalancerIP="192.168.56.230")
    assert c.ensure_load_balancer("kfs", asked, [])["ingress"][0]["ip"] == "192.168.56.230"


def test_an_exhausted_pool_is_an_error_naming_the_pool():
    c, _, _ = fake_cloud("cp", pool=("10.0.0.200", "10.0.0.200"))
    c.ensure_load_balancer("kfs", service(uid="1"), [])
    with pytest.raises(cloud.CloudError, match="10.0.0.200-10.0.0.200"):
        c.ensure_load_balancer("kfs", service(uid="2"), [])


def test_update_repoints_the_backends_and_the_health_check_follows_the_service():
    c, _, fwd = fake_cloud("cp", "node1", "node2")
    svc = service(healthCheckNodePort=31999)
    c.ensure_load_balancer("kfs", svc, [node("node1", internal="192.168.56.11")])
    c.update_load_balancer("kfs", svc, [node("node1", internal="192.168.56.11"),
                                        node("node2", internal="192.168.56.12")])
    served = fwd.serving[cloud.default_load_balancer_name(svc)]
    assert served["backends"] == ["192.168.56.11", "192.168.56.12"]
    assert served["health_check_port"] == 31999


def test_deleting_releases_the_address_and_deleting_again_is_no_error():
    c, _, fwd = fake_cloud("cp")
    c.ensure_load_balancer("kfs", service(uid="1"), [])
    c.ensure_load_balancer_deleted("kfs", service(uid="1"))
    c.ensure_load_balancer_deleted("kfs", service(uid="1"))
    assert fwd.serving == {} and c.get_load_balancer("kfs", service(uid="1")) == (None, False)
    assert c.ensure_load_balancer("kfs", service(uid="2"), [])["ingress"][0]["ip"] == \
        "192.168.56.200"


def test_the_cloud_config_can_ask_for_ipmode_proxy_so_kube_proxy_leaves_the_address_alone(tmp_path):
    """The Vagrant lab's balancer addresses are on cp, which has no route to pods."""
    config = tmp_path / "cloud-config.json"
    config.write_text(json.dumps({"lab": "kfs", "subnet": "192.168.56.0/24", "ipMode": "Proxy",
                                  "machines": []}))
    c = netns.new_cloud(str(config), forwarder=RecordingForwarder())
    status = c.ensure_load_balancer("kfs", service(), [node("node1", internal="192.168.56.11")])
    assert status == {"ingress": [{"ip": "192.168.56.200", "ipMode": "Proxy"}]}
