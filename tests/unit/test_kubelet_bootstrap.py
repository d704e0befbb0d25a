"""TLS bootstrapping (kfs/kubelet/bootstrap.py) against FakeApi with a signer that answers
at once: the client CSR, the kubeconfig written, reuse, the serving CSR, a denial."""
import base64
import threading

import pytest
import yaml
from cryptography import x509

from kfs import pki
from kfs.kubelet import bootstrap
from tests.fakes import FakeApi


@pytest.fixture
def ca(tmp_path):
    p = pki.ensure_pki(tmp_path / "pki", ["127.0.0.1"])
    boot = pki.write_kubeconfig(tmp_path / "bootstrap.kubeconfig", "https://127.0.0.1:6443",
                                p.ca, "kubelet-bootstrap", token="abcdef.0123456789abcdef")
    return p, boot


class SigningApi(FakeApi):
    """A FakeApi whose CSRs are approved and signed the moment they are created (or denied)."""

    def __init__(self, p, deny=False):
        super().__init__()
        self.p, self.deny = p, deny

    def create(self, body, **kwargs):
        created = super().create(body, **kwargs)
        if body.get("kind") != "CertificateSigningRequest":
            return created
        if self.deny:
            created["status"] = {"conditions": [{"type": "Denied", "status": "True",
                                                 "reason": "NotYou", "message": "no"}]}
        else:
            request = pki.parse_csr(base64.b64decode(body["spec"]["request"]))
            pem = pki.sign_csr(request, self.p.ca, self.p.key("ca"), body["spec"]["usages"], 3600)
            created["status"] = {"certificate": base64.b64encode(pem).decode()}
        return self.replace(created, subresource="status")


def subject(pem_file):
    return x509.load_pem_x509_certificate(open(pem_file, "rb").read()).subject.rfc4514_string()


def test_a_kubelet_without_a_kubeconfig_asks_for_its_client_certificate(ca, tmp_path):
    p, boot = ca
    api = SigningApi(p)
    kubeconfig = tmp_path / "kubelet.kubeconfig"
    assert bootstrap.load_client_cert(kubeconfig, boot, tmp_path / "certs", "node3",
                                      client=api, timeout=5)
    (csr,) = api.all("certificatesigningrequests")
    assert csr["metadata"]["name"].startswith("node-csr-")
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    config = yaml.safe_load(kubeconfig.read_text())
    pem = config["users"][0]["user"]["client-certificate"]
    assert subject(pem) == "CN=system:node:node3,O=system:nodes"
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert bootstrap.kubeconfig_usable(kubeconfig)
    assert not (tmp_path / "certs" / "kubelet-client.key.tmp").exists()


def test_a_usable_kubeconfig_is_kept_and_nothing_is_asked(ca, tmp_path):
    p, boot = ca
    api = SigningApi(p)
    kubeconfig = tmp_path / "kubelet.kubeconfig"
    bootstrap.load_client_cert(kubeconfig, boot, tmp_path / "certs", "node3", client=api,
                               timeout=5)
    again = SigningApi(p)
    assert bootstrap.load_client_cert(kubeconfig, boot, tmp_path / "certs", "node3",
                                      client=again, timeout=5)
    assert again.all("certificatesigningrequests") == []


def test_a_restarted_kubelet_asks_with_the_same_key_and_finds_its_request(ca, tmp_path):
    key = bootstrap.load_or_make_key(tmp_path / "k.tmp")
    assert bootstrap.load_or_make_key(tmp_path / "k.tmp").public_key() == key.public_key()
    assert bootstrap.digested_name("node-csr-", key, "node3") == bootstrap.digested_name(
        "node-csr-", key, "node3")
    assert bootstrap.digested_name("node-csr-", key, "node3") != bootstrap.digested_name(
        "node-csr-", key, "node4")


def test_the_serving_certificate_names_the_node_and_its_address(ca, tmp_path):
    p, _ = ca
    api = SigningApi(p)
    pem = bootstrap.load_serving_cert(api, tmp_path, "node3", "192.168.62.13", timeout=5)
    (csr,) = api.all("certificatesigningrequests")
    assert csr["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
    assert csr["spec"]["usages"] == ["digital signature", "server auth"]
    cert = x509.load_pem_x509_certificate(open(pem, "rb").read())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["192.168.62.13"]
    assert bootstrap.load_serving_cert(SigningApi(p), tmp_path, "node3", "x") == pem


def test_a_denied_request_is_an_error_that_says_so(ca, tmp_path):
    p, boot = ca
    with pytest.raises(bootstrap.BootstrapError, match="Denied: NotYou"):
        bootstrap.load_client_cert(tmp_path / "k", boot, tmp_path / "c", "node3",
                                   client=SigningApi(p, deny=True), timeout=5)


def test_a_kubelet_told_to_stop_while_waiting_stops(ca, tmp_path):
    p, boot = ca
    stop = threading.Event()
    stop.set()
    assert bootstrap.load_client_cert(tmp_path / "k", boot, tmp_path / "c", "node3",
                                      client=FakeApi(), stop=stop) is False
