"""A pod's resolv.conf per dnsPolicy, and its /etc/hosts (kfs.kubelet.dns, podspec)."""
import pytest

from kfs.kubelet import podspec
from kfs.kubelet.dns import Configurer, DNSConfig, parse_resolv_conf, resolv_conf
from kfs.kubelet.events import ListRecorder
from kfs.kubelet.fake_runtime import FakeClock, FakeRuntime
from kfs.kubelet.kubelet import Kubelet

HOST_RESOLV_CONF = """# the machine's
nameserver 192.168.56.1
nameserver 192.168.56.2
search lab.example. corp.example
options timeout:2 attempts:3
"""


def make_pod(name="web", namespace="shop", **spec):
    """A pod as the API server hands it to the kubelet."""
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}"},
            "spec": {"containers": [{"name": "app", "image": "kfs/busybox:1"}],
                     "restartPolicy": "Always", "nodeName": "node1", **spec}}


@pytest.fixture
def host_conf(tmp_path):
    path = tmp_path / "resolv.conf"
    path.write_text(HOST_RESOLV_CONF)
    return str(path)


@pytest.fixture
def recorder():
    return ListRecorder()


def configurer(host_conf, recorder, cluster_dns=("10.96.0.10",)):
    return Configurer(list(cluster_dns), "cluster.local", host_conf, recorder.event)


def test_the_machines_resolv_conf_is_parsed_as_the_kubelet_does():
    assert parse_resolv_conf(HOST_RESOLV_CONF) == (
        ["192.168.56.1", "192.168.56.2"], ["lab.example", "corp.example"],
        ["timeout:2", "attempts:3"])


def test_cluster_first_uses_only_the_cluster_dns_and_searches_the_namespace_first(
        host_conf, recorder):
    config = configurer(host_conf, recorder).get_pod_dns(make_pod())
    assert resolv_conf(config) == (
        "nameserver 10.96.0.10\n"
        "search shop.svc.cluster.local svc.cluster.local cluster.local lab.example corp.example\n"
        "options ndots:5\n")


def test_cluster_first_is_the_default_policy(host_conf, recorder):
    c = configurer(host_conf, recorder)
    assert c.get_pod_dns(make_pod()) == c.get_pod_dns(make_pod(dnsPolicy="ClusterFirst"))


def test_default_is_the_machines_resolver(host_conf, recorder):
    config = configurer(host_conf, recorder).get_pod_dns(make_pod(dnsPolicy="Default"))
    assert config == DNSConfig(["192.168.56.1", "192.168.56.2"],
                               ["lab.example", "corp.example"], ["timeout:2", "attempts:3"])


def test_a_host_network_pod_with_cluster_first_gets_the_machines_resolver(host_conf, recorder):
    config = configurer(host_conf, recorder).get_pod_dns(make_pod(hostNetwork=True))
    assert config.servers == ["192.168.56.1", "192.168.56.2"]


def test_cluster_first_with_host_net_gives_a_host_network_pod_the_cluster_dns(
        host_conf, recorder):
    pod = make_pod(hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet")
    config = configurer(host_conf, recorder).get_pod_dns(pod)
    assert config.servers == ["10.96.0.10"] and config.searches[0] == "shop.svc.cluster.local"


def test_none_gives_exactly_the_pods_dns_config(host_conf, recorder):
    pod = make_pod(dnsPolicy="None", dnsConfig={
        "nameservers": ["1.2.3.4"], "searches": ["ns1.svc.cluster-domain.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})
    assert resolv_conf(configurer(host_conf, recorder).get_pod_dns(pod)) == (
        "nameserver 1.2.3.4\nsearch ns1.svc.cluster-domain.example\noptions ndots:2 edns0\n")


def test_a_dns_config_is_appended_and_its_options_override_by_name(host_conf, recorder):
    pod = make_pod(dnsConfig={"nameservers": ["10.96.0.10", "8.8.8.8"],
                              "searches": ["extra.example", "cluster.local"],
                              "options": [{"name": "ndots", "value": "1"}, {"name": "rotate"}]})
    config = configurer(host_conf, recorder).get_pod_dns(pod)
    assert config.servers == ["10.96.0.10", "8.8.8.8"]
    assert config.searches[-1] == "extra.example" and config.searches.count("cluster.local") == 1
    assert config.options == ["ndots:1", "rotate"]


def test_without_cluster_dns_cluster_first_falls_back_to_default_with_a_warning(
        host_conf, recorder):
    config = configurer(host_conf, recorder, cluster_dns=()).get_pod_dns(make_pod())
    assert config.servers == ["192.168.56.1", "192.168.56.2"]
    assert recorder.reasons("web") == ["MissingClusterDNS"]


def test_no_resolv_conf_means_the_local_machine_and_no_search(recorder):
    config = Configurer([], "", "", recorder.event).get_pod_dns(make_pod(dnsPolicy="Default"))
    assert config == DNSConfig(["127.0.0.1"], ["."], [])


def test_more_than_three_nameservers_are_cut_with_a_warning(host_conf, recorder):
    pod = make_pod(dnsConfig={"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3"]})
    config = configurer(host_conf, recorder).get_pod_dns(pod)
    assert config.servers == ["10.96.0.10", "1.1.1.1", "2.2.2.2"]
    assert "DNSConfigForming" in recorder.reasons("web")


def test_the_sandbox_is_created_with_the_pods_dns_config(tmp_path, host_conf, recorder):
    clock = FakeClock()
    kl = Kubelet(FakeRuntime(clock), "node1", "192.168.56.11", tmp_path, recorder=recorder,
                 clock=clock, dns_configurer=configurer(host_conf, recorder))
    pod = make_pod()
    kl.sync(pod)
    sandbox = next(c for c in kl.runtime.containers.values() if c.is_sandbox)
    assert sandbox.config.dns_config.servers == ["10.96.0.10"]
    assert sandbox.config.hostname == "web"
    kl.stop()


def test_an_unreadable_resolv_conf_fails_the_sandbox_with_an_event(tmp_path, recorder):
    clock = FakeClock()
    kl = Kubelet(FakeRuntime(clock), "node1", "192.168.56.11", tmp_path, recorder=recorder,
                 clock=clock, dns_configurer=Configurer([], "", str(tmp_path / "nosuch"),
                                                        recorder.event))
    kl.sync(make_pod(dnsPolicy="Default"))
    assert "FailedCreatePodSandBox" in recorder.reasons("web")
    kl.stop()


# -- hostname and /etc/hosts ---------------------------------------------------------------------

def hosts_of(pod, tmp_path, pod_ip="172.17.0.5"):
    config = podspec.container_config(pod, pod["spec"]["containers"][0], 0, pod_ip,
                                      "192.168.56.11", tmp_path,
                                      cluster_domain="cluster.local")
    hosts = [m for m in config.mounts if m[1] == "/etc/hosts"]
    return hosts and open(hosts[0][0]).read()


def test_the_managed_hosts_file_names_the_pod_as_upstreams_kubelet_writes_it(tmp_path):
    assert hosts_of(make_pod(), tmp_path) == (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        "172.17.0.5\tweb\n")


def test_hostname_and_subdomain_give_the_pod_its_fqdn(tmp_path):
    pod = make_pod(hostname="db-0", subdomain="db")
    assert hosts_of(pod, tmp_path).endswith("172.17.0.5\tdb-0.db.shop.svc.cluster.local\tdb-0\n")
    assert podspec.sandbox_config(pod, 0, cluster_domain="cluster.local").hostname == "db-0"


def test_a_long_pod_name_is_cut_to_63_characters_for_the_hostname():
    pod = make_pod(name="a" * 62 + "-bcd")
    assert podspec.pod_hostname_and_domain(pod)[0] == "a" * 62


def test_host_aliases_are_appended(tmp_path):
    pod = make_pod(hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}])
    assert hosts_of(pod, tmp_path).endswith(
        "\n# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")


def test_no_hosts_file_before_the_pod_has_an_address(tmp_path):
    assert hosts_of(make_pod(), tmp_path, pod_ip="") == []


def test_a_container_mounting_its_own_etc_hosts_keeps_it(tmp_path):
    pod = make_pod(volumes=[{"name": "h", "emptyDir": {}}])
    pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "h", "mountPath": "/etc/hosts"}]
    config = podspec.container_config(pod, pod["spec"]["containers"][0], 0, "172.17.0.5",
                                      "192.168.56.11", tmp_path)
    assert [m[1] for m in config.mounts] == ["/etc/hosts"]
    assert "empty-dir" in config.mounts[0][0]


def test_a_host_network_pod_gets_the_machines_hosts_file_with_a_header(tmp_path):
    node_hosts = tmp_path / "hosts"
    node_hosts.write_text("127.0.0.1 localhost\n192.168.56.11 node1\n")
    pod = make_pod(hostNetwork=True)
    path = podspec.ensure_hosts_file(pod, tmp_path, ["192.168.56.11"], "cluster.local",
                                     node_hosts=node_hosts)
    assert path.read_text() == ("# Kubernetes-managed hosts file (host network).\n"
                                "127.0.0.1 localhost\n192.168.56.11 node1\n")
