"""csrsigning (kfs/controllers/signer.py) on FakeApi: approved CSRs signed by the CA, for
the known signers, with the requested duration; bad requests Failed."""
import base64
import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from kfs import pki
from kfs.controllers.manager import SharedInformers
from kfs.controllers.signer import CSRSigningController
from tests.controller_objects import csr
from tests.fakes import FakeApi


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    p = pki.ensure_pki(tmp_path_factory.mktemp("pki"), ["127.0.0.1"])
    return p.ca, p.key("ca")


def approved(obj):
    obj["status"] = {"conditions": [{"type": "Approved", "status": "True",
                                     "reason": "AutoApproved", "message": "ok"}]}
    return obj


def setup(ca, *objects, **kwargs):
    api = FakeApi(*objects)
    controller = CSRSigningController(api, SharedInformers(api, api.informer), None, *ca,
                                      **kwargs)
    api.replay()
    return api, controller


def certificate(api, name="csr-1"):
    status = api.get("certificatesigningrequests", name).get("status", {})
    pem = status.get("certificate")
    return x509.load_pem_x509_certificate(base64.b64decode(pem)) if pem else None


def lifetime(cert):
    return cert.not_valid_after_utc - cert.not_valid_before_utc


def test_an_approved_kubelet_client_csr_gets_a_client_certificate_from_the_ca(ca):
    api, c = setup(ca, approved(csr()))
    c.drain()
    cert = certificate(api)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(open(ca[0], "rb").read()))
    assert cert.subject.rfc4514_string() == "CN=system:node:node3,O=system:nodes"
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert api.verbs()[-1][0] == "update/status"


def test_a_pending_csr_is_not_signed(ca):
    api, c = setup(ca, csr())
    c.drain()
    assert certificate(api) is None


def test_expiration_seconds_is_honoured_and_capped_by_the_signing_duration(ca):
    api, c = setup(ca, approved(csr(name="short", expirationSeconds=3600)),
                   approved(csr(name="long", expirationSeconds=10 ** 8)),
                   signing_duration=7200)
    c.drain()
    backdate = datetime.timedelta(minutes=5)
    assert lifetime(certificate(api, "short")) == datetime.timedelta(hours=1) + backdate
    assert lifetime(certificate(api, "long")) == datetime.timedelta(hours=2) + backdate


def test_a_serving_csr_gets_its_ip_and_dns_sans_and_server_auth(ca):
    api, c = setup(ca, approved(csr(signer="kubernetes.io/kubelet-serving",
                                    ips=("192.168.62.13",), dns=("node3",),
                                    usages=("digital signature", "server auth"))))
    c.drain()
    sans = certificate(api).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == ["192.168.62.13"]
    assert sans.get_values_for_type(x509.DNSName) == ["node3"]


def test_a_request_breaking_its_signers_rules_is_failed_not_signed(ca):
    api, c = setup(ca, approved(csr(orgs=("system:masters",))))
    c.drain()
    assert certificate(api) is None
    failed = api.get("certificatesigningrequests", "csr-1")["status"]["conditions"][-1]
    assert (failed["type"], failed["reason"]) == ("Failed", "SignerValidationFailure")
    assert "system:nodes" in failed["message"]


def test_csrs_for_other_signers_are_left_alone(ca):
    api, c = setup(ca, approved(csr(signer="example.com/mine")))
    c.drain()
    assert certificate(api) is None
    assert not [a for a in api.verbs() if a[0].startswith("update")]
