"""Cluster DNS for real: the lab at stage `dns` (`kfs dns` on cp behind the Service
kube-system/kube-dns 10.96.0.10, kubelets with --cluster-dns), queried from inside a pod
with the image's own resolver (busybox's nslookup, glibc's getaddrinfo through ping).

Every query goes the way an attendee's does: the pod's /etc/resolv.conf (written by the
kubelet) names 10.96.0.10, which kube-proxy turns into cp's address.
"""
import os
import signal

import pytest

from kfs import meta
from kfs.lab import supervisor
from kfs.lab.stages import dns as dns_stage
from kfs.util import wait_for

NS_A, NS_B = "dns-a", "dns-b"
quiet = dict(progress=lambda msg: None)


@pytest.fixture(scope="module")
def cluster(lab):
    from kfs.client import Client
    lab.up(stage="dns", **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for(lambda: any(meta.name(n) == "node1" and meta.condition_true(n, "Ready")
                         for n in client.list("nodes")["items"]), 60, what="node1 Ready")
    for ns in (NS_A, NS_B):
        client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        client.create(pod("web", ns, {"app": "web"}, image="kfs/echo:1"))
        client.create(service("web", ns, {"app": "web"}))
    client.create(pod("client", NS_A, {}, command=["sleep", "3600"]))
    wait_for(lambda: running(client, NS_A, "client"), 60, what="the client pod Running")
    yield client
    for ns in (NS_A, NS_B):
        client.delete("namespaces", ns)


def pod(name, ns, labels, image="kfs/busybox:1", command=None, **spec):
    container = {"name": "app", "image": image}
    if command:
        container["command"] = command
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": "node1", "terminationGracePeriodSeconds": 0,
                     "containers": [container], **spec}}


def service(name, ns, selector, headless=False):
    spec = {"selector": selector, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
    if headless:
        spec["clusterIP"] = "None"
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": spec}


def running(client, ns, name):
    try:
        p = client.get("pods", name, ns)
    except Exception:
        return False
    return p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP")


def container(lab, ns, name):
    """The pod's app container on node1's own Docker."""
    found = lab.machine("node1").docker().containers.list(filters={"label": [
        f"io.kubernetes.pod.namespace={ns}", f"io.kubernetes.pod.name={name}",
        "io.kubernetes.container.name=app"]})
    assert found, f"no running container of pod {ns}/{name} on node1"
    return found[0]


def sh(lab, command, ns=NS_A, name="client"):
    """(exit code, output) of `command` in the pod, bounded by busybox's timeout."""
    code, out = container(lab, ns, name).exec_run(["timeout", "10", "sh", "-c", command])
    return code, out.decode(errors="replace")


def cluster_ip(client, ns, name):
    return client.get("services", name, ns)["spec"]["clusterIP"]


def answers(lab, name, *expected, qtype=None):
    """Does nslookup (the pod's resolver) answer `name` with every one of `expected`? (Its
    exit code is 1 as soon as one search domain is NXDOMAIN, so only the output counts.)"""
    flag = f"-type={qtype} " if qtype else ""
    code, out = sh(lab, f"nslookup {flag}{name}")
    return all(e in out for e in expected)


def test_a_pods_resolv_conf_names_the_cluster_dns_and_its_namespace_search_path(cluster, lab):
    nameserver, search, options = sh(lab, "cat /etc/resolv.conf")[1].splitlines()
    assert nameserver == "nameserver 10.96.0.10" and options == "options ndots:5"
    # then the machine's own search domains, if it has any
    assert search.startswith(f"search {NS_A}.svc.cluster.local svc.cluster.local cluster.local")


def test_a_pods_etc_hosts_names_the_pod_itself(cluster, lab):
    ip = cluster.get("pods", "client", NS_A)["status"]["podIP"]
    code, out = sh(lab, "cat /etc/hosts")
    assert out.startswith("# Kubernetes-managed hosts file.\n")
    assert f"{ip}\tclient\n" in out


def test_a_service_name_resolves_to_its_cluster_ip(cluster, lab):
    ip = cluster_ip(cluster, NS_A, "web")
    assert wait_for(lambda: answers(lab, f"web.{NS_A}.svc.cluster.local", ip), 20,
                    what="web's ClusterIP from the pod")


def test_the_search_path_resolves_a_short_name_and_one_in_another_namespace(cluster, lab):
    here, there = cluster_ip(cluster, NS_A, "web"), cluster_ip(cluster, NS_B, "web")
    assert wait_for(lambda: answers(lab, "web", f"Name:\tweb.{NS_A}.svc.cluster.local\nAddress: {here}"), 20,
                    what="web through the search path")
    # busybox's nslookup searches only names without a dot; getaddrinfo (ping) searches all
    # names with fewer than ndots:5 dots: web.dns-b -> web.dns-b.svc.cluster.local
    code, out = sh(lab, f"ping -c 1 -W 1 web.{NS_B}")
    assert f"PING web.{NS_B} ({there})" in out


def test_wget_reaches_a_pod_by_the_services_short_name_and_across_namespaces(cluster, lab):
    for url in ("http://web", f"http://web.{NS_B}"):
        assert wait_for(lambda: "hostname=web" in sh(lab, f"timeout 5 wget -qO- {url}")[1], 30,
                        what=f"wget {url} answered by a web pod")


def test_with_the_real_kubectl_a_pod_resolves_and_reaches_the_services_of_both_namespaces(
        cluster, lab):
    from kfs.kubectl import kubectl

    def in_client(*argv):   # kubectl exec's stdout (busybox nslookup may exit 1: see answers)
        return kubectl("exec", "-n", NS_A, "client", "--", "timeout", "10", *argv, lab=lab,
                       show=False, check=False)
    for ns in (NS_A, NS_B):
        name, ip = f"web.{ns}.svc.cluster.local", cluster_ip(cluster, ns, "web")
        assert wait_for(lambda: f"Address: {ip}" in in_client("nslookup", name), 20,
                        what=f"kubectl exec ... nslookup {name} to answer {ip}")
    for url, ns in (("http://web", NS_A), (f"http://web.{NS_B}", NS_B)):
        pod_ip = cluster.get("pods", "web", ns)["status"]["podIP"]
        assert wait_for(lambda: f"hostname=web ip={pod_ip} " in in_client("wget", "-qO-", url),
                        30, what=f"kubectl exec ... wget {url} answered by {ns}'s web pod")


def test_srv_answers_a_named_port(cluster, lab):
    assert wait_for(lambda: answers(lab, f"_http._tcp.web.{NS_A}.svc.cluster.local",
                                    f"web.{NS_A}.svc.cluster.local", "80", qtype="srv"),
                    20, what="the SRV record of web's port http")


def test_a_name_that_does_not_exist_is_nxdomain(cluster, lab):
    code, out = sh(lab, f"nslookup nosuch.{NS_A}.svc.cluster.local")
    assert code != 0 and "NXDOMAIN" in out


def test_a_headless_service_answers_its_ready_pods_and_drops_an_unready_one(cluster, lab):
    probe = {"exec": {"command": ["test", "-f", "/tmp/ready"]}, "periodSeconds": 1,
             "failureThreshold": 1}
    for name in ("db-0", "db-1"):
        p = pod(name, NS_A, {"app": "db"}, command=["sh", "-c", "touch /tmp/ready; sleep 3600"])
        p["spec"]["containers"][0]["readinessProbe"] = probe
        cluster.create(p)
    cluster.create(service("db", NS_A, {"app": "db"}, headless=True))
    wait_for(lambda: running(cluster, NS_A, "db-0") and running(cluster, NS_A, "db-1"), 60,
             what="db-0 and db-1 Running")
    ips = [cluster.get("pods", n, NS_A)["status"]["podIP"] for n in ("db-0", "db-1")]
    name = f"db.{NS_A}.svc.cluster.local"
    assert wait_for(lambda: answers(lab, name, *ips), 30, what="both db pods' addresses")
    container(lab, NS_A, "db-1").exec_run(["rm", "/tmp/ready"])
    assert wait_for(lambda: answers(lab, name, ips[0]) and not answers(lab, name, ips[1]), 20,
                    what="the unready db-1 dropped from the answer")


def test_a_deleted_service_stops_resolving_within_seconds(cluster, lab):
    cluster.create(service("gone", NS_A, {"app": "web"}))
    name = f"gone.{NS_A}.svc.cluster.local"
    assert wait_for(lambda: answers(lab, name, cluster_ip(cluster, NS_A, "gone")), 20,
                    what="the new Service resolving")
    cluster.delete("services", "gone", NS_A)
    assert wait_for(lambda: "NXDOMAIN" in sh(lab, f"nslookup {name}")[1], 20,
                    what="the deleted Service's name to be NXDOMAIN")


def test_dns_policy_none_gives_exactly_the_pods_dns_config(cluster, lab):
    p = pod("custom", NS_A, {}, command=["sleep", "3600"], dnsPolicy="None", dnsConfig={
        "nameservers": ["192.0.2.53"], "searches": ["ns1.svc.cluster-domain.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]})
    cluster.create(p)
    wait_for(lambda: running(cluster, NS_A, "custom"), 60, what="the custom pod Running")
    assert sh(lab, "cat /etc/resolv.conf", name="custom")[1] == (
        "nameserver 192.0.2.53\nsearch ns1.svc.cluster-domain.example\noptions ndots:2 edns0\n")


def test_kfs_dns_killed_and_restarted_answers_again(cluster, lab):
    ip = cluster_ip(cluster, NS_A, "web")
    name = f"web.{NS_A}.svc.cluster.local"
    d = dns_stage.daemon(lab)
    os.kill(supervisor.pid_of(d), signal.SIGKILL)
    wait_for(lambda: supervisor.pid_of(d) is None, 10, what="kfs dns gone")
    assert not answers(lab, name, ip)
    lab.up(stage="dns", **quiet)
    assert wait_for(lambda: answers(lab, name, ip), 20, what="resolution back after a restart")


def test_queries_during_an_api_server_outage_are_answered_from_the_last_state(cluster, lab):
    from kfs.lab.stages import apiserver as apiserver_stage
    ip = cluster_ip(cluster, NS_A, "web")
    name = f"web.{NS_A}.svc.cluster.local"
    assert wait_for(lambda: answers(lab, name, ip), 20, what="web resolving")
    supervisor.stop(apiserver_stage.apiserver_daemon(lab))
    try:
        assert answers(lab, name, ip)
    finally:
        lab.up(stage="dns", **quiet)
    assert wait_for(lambda: answers(lab, name, ip), 20, what="web resolving afterwards")


def test_the_stage_is_idempotent_and_going_below_it_removes_it(cluster, lab):
    d = dns_stage.daemon(lab)
    pid = supervisor.pid_of(d)
    lab.up(stage="dns", **quiet)
    assert supervisor.pid_of(d) == pid
    lab.up(stage="controller-manager", **quiet)
    try:
        assert supervisor.pid_of(d) is None
        assert not cluster.list("services", "kube-system",
                                field_selector="metadata.name=kube-dns")["items"]
        kubelet_cmd = (lab.machine("node1").dir / "kubelet.cmd").read_text()
        assert "--cluster-dns" not in kubelet_cmd
    finally:
        lab.up(stage="dns", **quiet)
    slice_ = cluster.get("endpointslices", "kube-dns", "kube-system")
    assert slice_["endpoints"][0]["addresses"] == [lab.machine("cp").ip]
    assert "--cluster-dns 10.96.0.10" in (lab.machine("node1").dir / "kubelet.cmd").read_text()
