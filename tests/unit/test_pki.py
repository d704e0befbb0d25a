"""The lab PKI: what it issues, that it is idempotent, and that real tools accept it.

The real-tool tests run on loopback only: a Python ``ssl`` server that requires client
certificates (judged by curl, kubectl and the official Python client) and a two-member
etcd 3.4 cluster with client and peer TLS (judged by etcdctl).
"""
import base64
import json
import os
import shutil
import socket
import stat
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml
from cryptography import x509

from kfs import pki
from kfs.kubectl import binary as kubectl_binary
from kfs.apiserver import authn
from kfs.util import wait_for

NODES = {"node1": "192.168.56.11", "node2": "192.168.56.12"}
SERVER_IPS = ["192.168.56.10"]


@pytest.fixture
def lab_pki(tmp_path):
    return pki.ensure_pki(tmp_path / "pki", SERVER_IPS, ["cp"], NODES)


def load(p, name):
    return x509.load_pem_x509_certificate(p.cert(name).read_bytes())


def subject(cert):
    cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    orgs = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    return cn, orgs


def sans(cert):
    ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return ({str(i) for i in ext.get_values_for_type(x509.IPAddress)},
            set(ext.get_values_for_type(x509.DNSName)))


# -- what is issued ----------------------------------------------------------------------

@pytest.mark.parametrize("name, cn, orgs", [
    ("admin", "kubernetes-admin", ["system:masters"]),
    ("kubelet-node1", "system:node:node1", ["system:nodes"]),
    ("kubelet-node2", "system:node:node2", ["system:nodes"]),
    ("kube-scheduler", "system:kube-scheduler", []),
    ("kube-controller-manager", "system:kube-controller-manager", []),
    ("kube-proxy", "system:kube-proxy", []),
    ("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"]),
    ("flanneld", "flanneld", []),
    ("kube-dns", "system:kube-dns", []),
    ("cloud-controller-manager", "system:cloud-controller-manager", []),
    ("apiserver-etcd-client", "kube-apiserver-etcd-client", []),
    ("flanneld-etcd-client", "flanneld-etcd-client", []),
])
def test_each_client_certificate_names_its_user_in_cn_and_groups_in_o(lab_pki, name, cn, orgs):
    assert subject(load(lab_pki, name)) == (cn, orgs)


def test_the_api_server_certificate_covers_every_name_clients_dial(lab_pki):
    ips, dns = sans(load(lab_pki, "apiserver"))
    assert ips == {"192.168.56.10", "127.0.0.1", "10.96.0.1"}
    assert dns == {"kubernetes", "kubernetes.default", "kubernetes.default.svc",
                   "kubernetes.default.svc.cluster.local", "localhost", "cp"}


def test_a_kubelet_serving_certificate_names_its_node_ip_and_name(lab_pki):
    assert sans(load(lab_pki, "kubelet-node1-serving")) == ({"192.168.56.11"}, {"node1"})


def test_etcd_member_certificates_cover_the_member_and_loopback(lab_pki):
    for name in ("etcd-server-default", "etcd-peer-default"):
        assert sans(load(lab_pki, name)) == ({"192.168.56.10", "127.0.0.1"},
                                             {"default", "localhost"})


@pytest.mark.parametrize("name, purpose, ca, ok", [
    ("admin", "sslclient", "ca", True),
    ("admin", "sslserver", "ca", False),          # a client certificate cannot serve
    ("apiserver", "sslserver", "ca", True),
    ("apiserver", "sslclient", "ca", False),      # nor the server's act as a client
    ("kubelet-node1-serving", "sslserver", "ca", True),
    ("etcd-server-default", "sslserver", "etcd-ca", True),
    ("etcd-server-default", "sslclient", "etcd-ca", True),  # etcd's gateway dials itself
    ("etcd-peer-default", "sslclient", "etcd-ca", True),
    ("apiserver-etcd-client", "sslclient", "etcd-ca", True),
    ("apiserver-etcd-client", "sslclient", "ca", False),    # etcd has a CA of its own
    ("kubelet-node1", "sslclient", "etcd-ca", False),       # so a kubelet cannot reach etcd
])
def test_openssl_verifies_each_certificate_for_its_purpose_only(lab_pki, name, purpose, ca, ok):
    result = subprocess.run(["openssl", "verify", "-purpose", purpose, "-CAfile",
                             lab_pki.cert(ca), lab_pki.cert(name)], capture_output=True, text=True)
    assert (result.returncode == 0) is ok, result.stdout + result.stderr


def test_keys_are_readable_by_their_owner_only(lab_pki):
    keys = sorted(lab_pki.directory.glob("*.key"))
    assert len(keys) == len(list(lab_pki.directory.glob("*.crt"))) == 19
    assert {stat.S_IMODE(k.stat().st_mode) for k in keys} == {0o600}


# -- idempotence -------------------------------------------------------------------------

def snapshot(p):
    return {f.name: f.read_bytes() for f in p.directory.iterdir()}


def test_a_second_run_keeps_every_file(lab_pki):
    before = snapshot(lab_pki)
    again = pki.ensure_pki(lab_pki.directory, SERVER_IPS, ["cp"], NODES)
    assert again.created == () and snapshot(again) == before


def test_a_new_api_server_address_reissues_only_the_serving_certificate(lab_pki):
    again = pki.ensure_pki(lab_pki.directory, [*SERVER_IPS, "10.0.0.5"], ["cp"], NODES)
    assert again.created == ("apiserver",)
    assert "10.0.0.5" in sans(load(again, "apiserver"))[0]


def test_a_new_node_gets_its_certificates_and_the_others_are_kept(lab_pki):
    nodes = {**NODES, "node3": "192.168.56.13"}
    again = pki.ensure_pki(lab_pki.directory, SERVER_IPS, ["cp"], nodes)
    assert again.created == ("kubelet-node3", "kubelet-node3-serving")


def test_a_lost_ca_reissues_everything_it_signed_and_nothing_else(lab_pki):
    lab_pki.ca.unlink()
    again = pki.ensure_pki(lab_pki.directory, SERVER_IPS, ["cp"], NODES)
    signed_by_etcd_ca = {"etcd-ca", "etcd-server-default", "etcd-peer-default",
                         "apiserver-etcd-client", "flanneld-etcd-client"}
    assert set(again.created) == {f.stem for f in again.directory.glob("*.crt")} - signed_by_etcd_ca


def test_a_key_that_does_not_match_its_certificate_is_reissued(lab_pki):
    shutil.copy(lab_pki.key("kube-proxy"), lab_pki.key("admin"))
    assert pki.ensure_pki(lab_pki.directory, SERVER_IPS, ["cp"], NODES).created == ("admin",)


def test_certificates_close_to_expiry_are_renewed(lab_pki, monkeypatch):
    monkeypatch.setattr(pki, "RENEW_BEFORE", timedelta(days=pki.CERT_DAYS + 1))
    again = pki.ensure_pki(lab_pki.directory, SERVER_IPS, ["cp"], NODES)
    assert "ca" not in again.created and len(again.created) == 17


# -- kubeconfig and tokens -------------------------------------------------------------------

def test_an_embedded_kubeconfig_carries_the_files_and_is_private(lab_pki, tmp_path):
    path = pki.write_kubeconfig(tmp_path / "admin.kubeconfig", "https://192.168.56.10:6443",
                                lab_pki.ca, "kubernetes-admin", lab_pki.cert("admin"),
                                lab_pki.key("admin"))
    config = yaml.safe_load(path.read_text())
    assert config["current-context"] == "kubernetes-admin@kfs"
    cluster = config["clusters"][0]["cluster"]
    assert cluster["server"] == "https://192.168.56.10:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == lab_pki.ca.read_bytes()
    user = config["users"][0]["user"]
    assert base64.b64decode(user["client-key-data"]) == lab_pki.key("admin").read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_kubeconfig_without_credentials_is_refused(lab_pki, tmp_path):
    with pytest.raises(ValueError, match="token or both cert_path and key_path"):
        pki.write_kubeconfig(tmp_path / "k", "https://x:6443", lab_pki.ca, "nobody")


def test_the_token_file_is_upstreams_csv_and_reads_back(tmp_path):
    path = pki.token_file(tmp_path / "tokens.csv", [
        ("t1", "alice", "1", ("dev", "ops")), ("t2", "bob", "2", ("dev",)), ("t3", "carol", "3")])
    assert path.read_text() == 't1,alice,1,"dev,ops"\nt2,bob,2,dev\nt3,carol,3\n'
    assert pki.read_token_file(path) == {
        "t1": pki.StaticToken("t1", "alice", "1", ("dev", "ops")),
        "t2": pki.StaticToken("t2", "bob", "2", ("dev",)),
        "t3": pki.StaticToken("t3", "carol", "3", ())}


def test_the_token_file_parser_skips_empty_tokens_and_keeps_the_last_duplicate(tmp_path):
    path = tmp_path / "tokens.csv"
    path.write_text(',nobody,0\n\nt1,alice,1\nt1,mallory,9,"a,b"\n')
    assert pki.read_token_file(path) == {"t1": pki.StaticToken("t1", "mallory", "9", ("a", "b"))}


def test_a_token_row_with_too_few_columns_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "tokens.csv"
    path.write_text("t1,alice\n")
    with pytest.raises(pki.TokenFileError, match="must have at least 3 columns .* found 2"):
        pki.read_token_file(path)


# -- real tools: curl, kubectl, the Python client against a Python ssl server --------------

# The Python client (37.x, pydantic models) refuses a /version without every field.
VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-kfs", "gitCommit": "",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "python",
           "compiler": "cpython", "platform": "linux/amd64"}


class WhoAmI(BaseHTTPRequestHandler):
    """Answers /version like an API server, /whoami with the authenticated user."""
    tokens = {}

    def do_GET(self):
        der = self.connection.getpeercert(binary_form=True)
        user = authn.authenticate(der, self.headers.get("Authorization"), self.tokens)
        from_dict = authn.authenticate(self.connection.getpeercert(), None, {})
        if user is None:
            return self.reply(401, authn.unauthorized_status())
        if self.path.startswith("/version"):
            return self.reply(200, VERSION)
        self.reply(200, {"name": user.name, "groups": list(user.groups),
                         "same_from_dict": from_dict is None or from_dict.name == user.name})

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # failed handshakes are what some tests are about


@pytest.fixture
def https_server(lab_pki, tmp_path):
    """https://127.0.0.1:<port>, client certificates optional (else a token), yields the URL."""
    WhoAmI.tokens = {"s3cret": pki.StaticToken("s3cret", "alice", "1", ("dev",))}
    server = QuietServer(("127.0.0.1", 0), WhoAmI)
    ctx = pki.server_ssl_context(lab_pki.cert("apiserver"), lab_pki.key("apiserver"),
                                 client_ca=lab_pki.ca)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def curl(lab_pki, url, cert=None):
    argv = ["curl", "-sS", "--max-time", "10", "--cacert", str(lab_pki.ca), url + "/whoami"]
    if cert:
        argv += ["--cert", str(lab_pki.cert(cert)), "--key", str(lab_pki.key(cert))]
    return subprocess.run(argv, capture_output=True, text=True)


def test_curl_with_the_admin_certificate_is_kubernetes_admin(lab_pki, https_server):
    result = curl(lab_pki, https_server, "admin")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "kubernetes-admin",
                                         "groups": ["system:masters", "system:authenticated"],
                                         "same_from_dict": True}


def test_curl_without_credentials_gets_401(lab_pki, https_server):
    result = curl(lab_pki, https_server)
    assert json.loads(result.stdout)["code"] == 401


@pytest.mark.parametrize("cert", ["apiserver-etcd-client", "apiserver"])
def test_the_handshake_refuses_certificates_from_another_ca_or_for_serving(
        lab_pki, https_server, cert):
    result = curl(lab_pki, https_server, cert)
    assert result.returncode != 0 and result.stdout == ""


def kubectl(kubeconfig, home, *args):
    return subprocess.run([kubectl_binary(), "--kubeconfig", str(kubeconfig), *args],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(home)})


@pytest.mark.parametrize("embed", [True, False])
def test_kubectl_accepts_the_kubeconfig_and_is_the_certificates_user(
        lab_pki, https_server, tmp_path, embed):
    kc = pki.write_kubeconfig(tmp_path / "kc", https_server, lab_pki.ca, "system:node:node1",
                              lab_pki.cert("kubelet-node1"), lab_pki.key("kubelet-node1"),
                              embed=embed)
    version = kubectl(kc, tmp_path, "version", "-o", "json")
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["serverVersion"]["minor"] == "32"
    who = kubectl(kc, tmp_path, "get", "--raw", "/whoami")
    assert json.loads(who.stdout)["name"] == "system:node:node1", who.stderr


def test_kubectl_with_a_token_is_the_tokens_user_and_a_bad_token_is_unauthorized(
        lab_pki, https_server, tmp_path):
    good = pki.write_kubeconfig(tmp_path / "good", https_server, lab_pki.ca, "alice",
                                token="s3cret")
    who = kubectl(good, tmp_path, "get", "--raw", "/whoami")
    assert json.loads(who.stdout)["groups"] == ["dev", "system:authenticated"], who.stderr
    bad = pki.write_kubeconfig(tmp_path / "bad", https_server, lab_pki.ca, "eve", token="guess")
    denied = kubectl(bad, tmp_path, "get", "--raw", "/whoami")
    assert denied.returncode != 0 and "Unauthorized" in denied.stderr


@pytest.mark.parametrize("credentials", ["certificate", "token"])
def test_the_official_python_client_accepts_the_kubeconfig(
        lab_pki, https_server, tmp_path, credentials):
    kubernetes = pytest.importorskip("kubernetes")
    if credentials == "token":
        kc = pki.write_kubeconfig(tmp_path / "kc", https_server, lab_pki.ca, "alice",
                                  token="s3cret")
    else:
        kc = pki.write_kubeconfig(tmp_path / "kc", https_server, lab_pki.ca, "system:kube-proxy",
                                  lab_pki.cert("kube-proxy"), lab_pki.key("kube-proxy"))
    api = kubernetes.config.new_client_from_config(config_file=str(kc))
    assert kubernetes.client.VersionApi(api).get_code().minor == "32"
    request = api.param_serialize("GET", "/whoami", auth_settings=["BearerToken"])
    who = json.loads(api.call_api(*request).read())
    assert who["name"] == {"token": "alice", "certificate": "system:kube-proxy"}[credentials]


def test_a_client_context_trusts_the_lab_ca_and_presents_a_certificate(lab_pki, https_server):
    ctx = pki.client_ssl_context(lab_pki.ca, lab_pki.cert("kube-scheduler"),
                                 lab_pki.key("kube-scheduler"))
    port = int(https_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"GET /whoami HTTP/1.0\r\n\r\n")
            reply = b"".join(iter(lambda: tls.recv(4096), b""))
    assert b'"name": "system:kube-scheduler"' in reply


# -- real tools: etcd 3.4 with client and peer TLS ---------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcdctl(p, endpoints, cert=None, ca=None, *args):
    argv = ["etcdctl", "--endpoints", ",".join(endpoints), "--cacert", str(ca or p.etcd_ca),
            "--dial-timeout", "1s", "--command-timeout", "2s"]
    if cert:
        argv += ["--cert", str(p.cert(cert)), "--key", str(p.key(cert))]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "ETCDCTL_API": "3"})


@pytest.fixture(scope="module")
def etcd_cluster(tmp_path_factory):
    """Two etcd members on 127.0.0.1 that require client and peer certificates."""
    tmp_path = tmp_path_factory.mktemp("etcd")
    if not shutil.which("etcd"):
        pytest.skip("etcd is not installed (python3 -m kfs.bootstrap installs it)")
    members = {"m1": "127.0.0.1", "m2": "127.0.0.1"}
    p = pki.ensure_pki(tmp_path / "pki", ["127.0.0.1"], (), {"node1": "127.0.0.1"}, members)
    ports = {m: (free_port(), free_port()) for m in members}
    initial = ",".join(f"{m}=https://127.0.0.1:{peer}" for m, (_, peer) in ports.items())
    procs = []
    for m, (client, peer) in ports.items():
        argv = ["etcd", "--name", m, "--data-dir", str(tmp_path / m),
                "--listen-client-urls", f"https://127.0.0.1:{client}",
                "--advertise-client-urls", f"https://127.0.0.1:{client}",
                "--listen-peer-urls", f"https://127.0.0.1:{peer}",
                "--initial-advertise-peer-urls", f"https://127.0.0.1:{peer}",
                "--initial-cluster", initial, "--initial-cluster-state", "new",
                "--cert-file", p.cert(f"etcd-server-{m}"),
                "--key-file", p.key(f"etcd-server-{m}"),
                "--trusted-ca-file", p.etcd_ca, "--client-cert-auth",
                "--peer-cert-file", p.cert(f"etcd-peer-{m}"),
                "--peer-key-file", p.key(f"etcd-peer-{m}"),
                "--peer-trusted-ca-file", p.etcd_ca, "--peer-client-cert-auth"]
        log = open(tmp_path / f"{m}.log", "w")
        procs.append(subprocess.Popen([str(a) for a in argv], stdout=log, stderr=log))
    endpoints = [f"https://127.0.0.1:{client}" for client, _ in ports.values()]
    try:
        wait_for(lambda: etcdctl(p, endpoints, "apiserver-etcd-client",
                                 None, "endpoint", "health").returncode == 0,
                 timeout=30, what="both etcd members healthy over TLS")
        yield p, endpoints
    finally:
        for proc in procs:  # one at a time: stopped together, each waited ~7s for the other
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_etcd_serves_the_api_servers_etcd_client_certificate(etcd_cluster):
    p, endpoints = etcd_cluster
    health = etcdctl(p, endpoints, "apiserver-etcd-client", None, "endpoint", "health")
    assert health.returncode == 0 and health.stderr.count("is healthy") == 2, health.stderr
    members = etcdctl(p, endpoints[:1], "flanneld-etcd-client", None, "member", "list")
    assert members.returncode == 0 and members.stdout.count("started") == 2, members.stderr


def test_etcds_http_gateway_works_so_its_server_certificate_may_also_be_a_client(etcd_cluster):
    """etcd 3.4's gateway dials its own gRPC port presenting the server certificate."""
    p, endpoints = etcd_cluster
    client = ["--cert", p.cert("apiserver-etcd-client"), "--key", p.key("apiserver-etcd-client")]
    result = subprocess.run(["curl", "-sS", "--max-time", "10", "--cacert", p.etcd_ca, *client,
                             "-X", "POST", f"{endpoints[0]}/v3/kv/range", "-d", '{"key": "Lw=="}'],
                            capture_output=True, text=True)
    assert '"header"' in result.stdout and "error" not in result.stdout, result.stdout


@pytest.mark.parametrize("cert", [None, "admin", "kubelet-node1"])
def test_etcd_refuses_clients_without_an_etcd_ca_certificate(etcd_cluster, cert):
    """No certificate, or a valid one of the cluster CA: etcd has a CA of its own."""
    p, endpoints = etcd_cluster
    result = etcdctl(p, endpoints[:1], cert, None, "endpoint", "health")
    assert result.returncode != 0 and "is healthy" not in result.stderr
