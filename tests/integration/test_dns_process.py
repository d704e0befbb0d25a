"""`kfs dns` as its own process against a real API server and etcd on loopback.

It runs with the system:kube-dns certificate (so the bootstrap RBAC role is checked too),
on a free port of 127.0.0.1, with no upstream (nothing leaves the machine). Queries go out
over UDP and TCP with dnslib's client.
"""
import signal
import subprocess
import sys
import uuid

import pytest
import requests
from dnslib import QTYPE, RCODE, DNSRecord

from kfs import pki
from kfs.apiserver.local import free_port
from kfs.client import Client
from kfs.util import wait_for


class DnsProcess:
    def __init__(self, cp, directory):
        self.kubeconfig = directory / "kube-dns.kubeconfig"
        pki.write_kubeconfig(self.kubeconfig, cp.server, cp.pki.ca, "system:kube-dns",
                             cp.pki.cert("kube-dns"), cp.pki.key("kube-dns"))
        self.log = directory / "dns.log"
        self.port, self.ready_port, self.metrics_port = free_port(), free_port(), free_port()
        self.proc = None

    def start(self):
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "kfs.cli", "dns", "--kubeconfig", self.kubeconfig,
                 "--bind-address", "127.0.0.1", "--port", str(self.port), "--upstream", "none",
                 "--metrics-bind-address", f"127.0.0.1:{self.metrics_port}",
                 "--health-port", "0", "--ready-port", str(self.ready_port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_for(lambda: "dns started:" in self.log.read_text()[offset:]
                 or self.proc.poll() is not None, 30, what="kfs dns to start")
        assert self.proc.poll() is None, self.log.read_text()[-2000:]

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(15)

    def query(self, name, qtype="A", tcp=False):
        q = DNSRecord.question(name, qtype)
        return DNSRecord.parse(q.send("127.0.0.1", self.port, tcp=tcp, timeout=5))

    def addresses(self, name, qtype="A", tcp=False):
        reply = self.query(name, qtype, tcp)
        return sorted(str(rr.rdata) for rr in reply.rr if rr.rtype == getattr(QTYPE, qtype))


@pytest.fixture(scope="module")
def dns(cp, tmp_path_factory):
    d = DnsProcess(cp, tmp_path_factory.mktemp("dns"))
    d.start()
    yield d
    d.stop()


@pytest.fixture(scope="module")
def client(cp):
    return Client.from_kubeconfig(cp.kubeconfig())


@pytest.fixture
def ns(client):
    name = f"dns-{uuid.uuid4().hex[:6]}"
    client.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    return name


def create_service(client, ns, name, headless=False):
    spec = {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}
    if headless:
        spec["clusterIP"] = "None"
    return client.create({"apiVersion": "v1", "kind": "Service",
                          "metadata": {"name": name}, "spec": spec}, namespace=ns)


def create_slice(client, ns, service, endpoints):
    return client.create({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-1", "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}}
                      for ip, ready in endpoints],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}, namespace=ns)


def test_a_new_service_resolves_to_its_cluster_ip_and_stops_when_deleted(dns, client, ns):
    svc = create_service(client, ns, "web")
    name = f"web.{ns}.svc.cluster.local"
    ip = svc["spec"]["clusterIP"]
    assert wait_for(lambda: dns.addresses(name) == [ip], 10, what="the ClusterIP in DNS")
    assert dns.addresses(name, tcp=True) == [ip]
    srv = dns.query(f"_http._tcp.{name}", "SRV")
    assert [str(rr.rdata) for rr in srv.rr] == [f"0 100 80 {name}."]
    client.delete("services", "web", ns)
    wait_for(lambda: dns.query(name).header.rcode == RCODE.NXDOMAIN, 10,
             what="the deleted Service to be NXDOMAIN")


def test_a_headless_service_answers_its_ready_endpoints_as_the_slice_changes(dns, client, ns):
    create_service(client, ns, "db", headless=True)
    eps = create_slice(client, ns, "db", [("10.1.0.1", True), ("10.1.0.2", True),
                                         ("10.1.0.3", False)])
    name = f"db.{ns}.svc.cluster.local"
    wait_for(lambda: dns.addresses(name) == ["10.1.0.1", "10.1.0.2"], 10,
             what="the ready endpoints in DNS")
    eps["endpoints"][0]["conditions"]["ready"] = False
    client.replace(eps)
    wait_for(lambda: dns.addresses(name) == ["10.1.0.2"], 10,
             what="the unready endpoint to drop out")


def test_a_name_outside_the_cluster_is_refused_and_ready_and_metrics_say_so(dns):
    assert dns.query("example.org").header.rcode == RCODE.REFUSED
    ready = requests.get(f"http://127.0.0.1:{dns.ready_port}/ready", timeout=5)
    assert (ready.status_code, ready.text) == (200, "OK")
    text = requests.get(f"http://127.0.0.1:{dns.metrics_port}/metrics", timeout=5).text
    assert 'coredns_dns_responses_total{plugin="forward",rcode="REFUSED"' in text


def test_answers_go_on_while_the_api_server_is_down_and_new_services_follow_after(cp, dns,
                                                                                client, ns):
    ip = create_service(client, ns, "steady")["spec"]["clusterIP"]
    name = f"steady.{ns}.svc.cluster.local"
    wait_for(lambda: dns.addresses(name) == [ip], 10, what="the Service in DNS")
    cp.stop_process("apiserver")
    try:
        assert not cp.ready()
        for _ in range(20):
            assert dns.addresses(name) == [ip]
            assert dns.query(f"nope.{ns}.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    finally:
        cp.start_apiserver()
    later = create_service(client, ns, "later")["spec"]["clusterIP"]
    wait_for(lambda: dns.addresses(f"later.{ns}.svc.cluster.local") == [later], 30,
             what="a Service made after the restart to resolve")


def test_killed_and_restarted_it_answers_again_from_a_fresh_list(dns, client, ns):
    ip = create_service(client, ns, "again")["spec"]["clusterIP"]
    name = f"again.{ns}.svc.cluster.local"
    wait_for(lambda: dns.addresses(name) == [ip], 10, what="the Service in DNS")
    dns.stop(signal.SIGKILL)
    dns.start()
    assert dns.addresses(name) == [ip]
