"""kfs dns as a command: its flags, clear errors, upstream choice, probes, identity and RBAC."""
import socket

import pytest
import requests

from kfs import cli, pki
from kfs.apiserver.authn import User
from kfs.apiserver.policy import bootstrap_policy
from kfs.apiserver.rbac import Attributes, Authorizer
from kfs.dns import main as dns_main
from kfs.dns import metrics
from kfs.dns.forward import loops_back, parse_upstream, upstream_from_resolv_conf

DNS_USER = User("system:kube-dns", ("system:authenticated",))


def args(*argv):
    return cli.build_parser().parse_args(["dns", *argv])


@pytest.fixture
def kubeconfig(tmp_path):
    (tmp_path / "ca.crt").write_text("")
    return str(pki.write_kubeconfig(tmp_path / "dns.kubeconfig", "https://127.0.0.1:1",
                                    tmp_path / "ca.crt", "system:kube-dns", token="t",
                                    embed=False))


def run(capsys, *argv):
    code = cli.main(["dns", *argv])
    return code, capsys.readouterr().err


def test_the_defaults_are_kubeadms_corefile():
    a = args()
    assert (a.bind_address, a.port, a.cluster_domain, a.ttl, a.pods) == (
        "0.0.0.0", 53, "cluster.local", 30, "insecure")
    assert (a.metrics_bind_address, a.health_port, a.ready_port) == ("0.0.0.0:9153", 8080, 8181)


def test_a_missing_kubeconfig_is_named_not_a_traceback(capsys, tmp_path):
    code, err = run(capsys, "--kubeconfig", str(tmp_path / "nope"), "--upstream", "none")
    assert code == 2 and "no kubeconfig at" in err and "--kubeconfig" in err


@pytest.mark.parametrize("flags, message", [
    (["--ttl", "4000"], "--ttl 4000: must be 0-3600"),
    (["--upstream", "dns.example.org"], "--upstream: 'dns.example.org' is not an IP"),
    (["--metrics-bind-address", "9153"], "--metrics-bind-address '9153': expected HOST:PORT"),
    (["--port", "70000"], "port 70000 is not in 0-65535"),
])
def test_a_bad_flag_is_named(capsys, kubeconfig, flags, message):
    code, err = run(capsys, "--kubeconfig", kubeconfig, *flags)
    assert code == 2 and message in err


def test_an_upstream_that_is_this_server_is_refused(capsys, kubeconfig):
    code, err = run(capsys, "--kubeconfig", kubeconfig, "--bind-address", "127.0.0.1",
                    "--port", "5353", "--upstream", "127.0.0.1:5353")
    assert code == 2 and "is this server itself" in err


def test_a_port_in_use_says_so(capsys, kubeconfig):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        code, err = run(capsys, "--kubeconfig", kubeconfig, "--bind-address", "127.0.0.1",
                        "--port", str(taken.getsockname()[1]), "--upstream", "none",
                        "--metrics-bind-address", "0", "--health-port", "0", "--ready-port", "0")
    assert code == 2 and "cannot listen" in err and "--port" in err


# -- where names outside the cluster go -------------------------------------------------------

@pytest.mark.parametrize("text, parsed", [
    ("10.0.0.2", ("10.0.0.2", 53)), ("10.0.0.2:5353", ("10.0.0.2", 5353)),
    ("fd00::2", ("fd00::2", 53)), ("[fd00::2]:5353", ("fd00::2", 5353)),
    ("none", None), ("", None),
])
def test_an_upstream_is_an_address_and_a_port(text, parsed):
    assert parse_upstream(text) == parsed


def test_the_upstream_is_the_first_nameserver_of_resolv_conf(tmp_path):
    conf = tmp_path / "resolv.conf"
    conf.write_text("# made by hand\nsearch example.org\nnameserver 10.0.0.2  # first\n"
                    "nameserver 10.0.0.3\noptions ndots:1\n")
    assert upstream_from_resolv_conf(conf) == ("10.0.0.2", 53)


def test_without_nameserver_or_file_there_is_no_upstream(tmp_path):
    (tmp_path / "resolv.conf").write_text("search example.org\n")
    assert upstream_from_resolv_conf(tmp_path / "resolv.conf") is None
    assert upstream_from_resolv_conf(tmp_path / "missing") is None


def test_forwarding_to_a_loopback_address_on_our_own_port_would_loop():
    assert loops_back(("127.0.0.1", 53), "0.0.0.0", 53)
    assert loops_back(("10.0.0.5", 53), "10.0.0.5", 53)
    assert not loops_back(("127.0.0.1", 53), "0.0.0.0", 5353)
    assert not loops_back(("10.0.0.2", 53), "0.0.0.0", 53)
    assert not loops_back(None, "0.0.0.0", 53)


# -- /health, /ready, /metrics -----------------------------------------------------------------

def test_ready_says_which_plugin_is_not_ready_until_it_is():
    state = {"synced": False}
    server = metrics.serve_probe("127.0.0.1", 0, "/ready",
                                 lambda: [] if state["synced"] else ["kubernetes"])
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        r = requests.get(url + "/ready", timeout=5)
        assert (r.status_code, r.text) == (503, "kubernetes")
        state["synced"] = True
        r = requests.get(url + "/ready", timeout=5)
        assert (r.status_code, r.text) == (200, "OK")
        assert requests.get(url + "/other", timeout=5).status_code == 404
    finally:
        server.shutdown()


def test_metrics_are_served_for_prometheus():
    server = metrics.serve_metrics("127.0.0.1", 0)
    try:
        text = requests.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5).text
        for name in ("coredns_dns_requests_total", "coredns_dns_responses_total",
                     "coredns_dns_request_duration_seconds"):
            assert f"# TYPE {name.removesuffix('_total')}" in text, name
    finally:
        server.shutdown()


def test_the_metrics_address_may_be_only_a_port_or_disabled():
    assert dns_main.host_port(":9153") == ("0.0.0.0", 9153)
    assert dns_main.host_port("127.0.0.1:9153") == ("127.0.0.1", 9153)
    assert dns_main.host_port("0") is None


# -- identity and RBAC ------------------------------------------------------------------------

def authorizer():
    objects = bootstrap_policy()
    return Authorizer(lambda kind: [o for o in objects if o["kind"] == kind], privileged_groups=())


@pytest.mark.parametrize("verb, resource, group, allowed", [
    ("list", "services", "", True), ("watch", "services", "", True),
    ("list", "endpointslices", "discovery.k8s.io", True),
    ("watch", "endpointslices", "discovery.k8s.io", True),
    ("list", "namespaces", "", True), ("watch", "namespaces", "", True),
    ("get", "services", "", False), ("create", "services", "", False),
    ("list", "pods", "", False), ("list", "secrets", "", False),
    ("delete", "endpointslices", "discovery.k8s.io", False),
])
def test_kube_dns_may_list_and_watch_what_it_answers_from_and_nothing_else(verb, resource, group,
                                                                           allowed):
    attrs = Attributes(DNS_USER, verb, group, resource, "", "", "")
    assert authorizer().authorize(attrs)[0] is allowed


def test_the_lab_pki_issues_a_kube_dns_client_certificate():
    specs = {s.name: s for s in pki.cert_specs(["192.168.56.10"])}
    assert (specs["kube-dns"].cn, specs["kube-dns"].orgs, specs["kube-dns"].usage) == (
        "system:kube-dns", (), "client")
