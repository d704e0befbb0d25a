"""Authentication: certificates and tokens to users, as upstream's x509 and tokenfile do."""
import hashlib
import ssl

import pytest

from kfs import pki
from kfs.apiserver.authn import (CREDENTIAL_ID, User, authenticate, bearer_token,
                                 unauthorized_status)

TOKENS = {"t0k3n": pki.StaticToken("t0k3n", "alice", "42", ("dev", "ops")),
          "bare": pki.StaticToken("bare", "bob", "7")}


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return pki.ensure_pki(tmp_path_factory.mktemp("pki"), ["192.168.56.10"], (),
                          {"node1": "192.168.56.11"})


def der(p, name):
    return ssl.PEM_cert_to_DER_cert(p.cert(name).read_text())


def peercert_dict(cn=None, orgs=()):
    """What ``SSLObject.getpeercert()`` returns: one RDN tuple per attribute."""
    rdns = [(("organizationName", o),) for o in orgs]
    if cn is not None:
        rdns.append((("commonName", cn),))
    return {"subject": tuple(rdns), "issuer": ((("commonName", "kfs-ca"),),)}


@pytest.mark.parametrize("name, user, groups", [
    ("admin", "kubernetes-admin", ("system:masters", "system:authenticated")),
    ("kubelet-node1", "system:node:node1", ("system:nodes", "system:authenticated")),
    ("kube-scheduler", "system:kube-scheduler", ("system:authenticated",)),
    ("kube-controller-manager", "system:kube-controller-manager", ("system:authenticated",)),
    ("kube-proxy", "system:kube-proxy", ("system:authenticated",)),
    ("flanneld", "flanneld", ("system:authenticated",)),
    ("apiserver-kubelet-client", "kube-apiserver-kubelet-client",
     ("system:masters", "system:authenticated")),
])
def test_a_certificates_cn_is_the_user_and_its_o_fields_the_groups(certs, name, user, groups):
    found = authenticate(der(certs, name), None, {})
    assert (found.name, found.groups) == (user, groups)


def test_a_der_certificate_carries_upstreams_credential_id(certs):
    blob = der(certs, "admin")
    found = authenticate(blob, None, {})
    assert found.extra == {CREDENTIAL_ID: ["X509SHA256=" + hashlib.sha256(blob).hexdigest()]}


def test_the_peercert_dict_gives_the_same_user_as_the_der_form():
    found = authenticate(peercert_dict("system:node:n1", ["system:nodes", "extra"]), None, {})
    assert found == User("system:node:n1", ("system:nodes", "extra", "system:authenticated"))


@pytest.mark.parametrize("peer_cert", [None, {}, b"", peercert_dict(cn=None, orgs=["x"]),
                                       peercert_dict(cn="")])
def test_no_certificate_or_one_without_a_cn_names_nobody(peer_cert):
    assert authenticate(peer_cert, None, TOKENS) is None


def test_a_certificate_without_a_cn_falls_through_to_the_token():
    found = authenticate(peercert_dict(cn=None, orgs=["x"]), "Bearer t0k3n", TOKENS)
    assert found.name == "alice"


def test_a_certificate_wins_over_a_token_as_upstreams_authenticator_order_says(certs):
    found = authenticate(der(certs, "kube-proxy"), "Bearer t0k3n", TOKENS)
    assert found.name == "system:kube-proxy"


@pytest.mark.parametrize("header, expected", [
    ("Bearer t0k3n", User("alice", ("dev", "ops", "system:authenticated"), "42")),
    ("bearer t0k3n", User("alice", ("dev", "ops", "system:authenticated"), "42")),
    ("  Bearer bare  ", User("bob", ("system:authenticated",), "7")),
    ("Bearer unknown", None),
    ("Bearer ", None),
    ("Bearer", None),
    ("Basic dXNlcjpwYXNz", None),
    ("t0k3n", None),
    ("", None),
    (None, None),
])
def test_bearer_tokens_are_looked_up_in_the_token_file(header, expected):
    assert authenticate(None, header, TOKENS) == expected  # uid included


def test_only_the_second_word_of_the_header_is_the_token():
    assert bearer_token("Bearer t0k3n trailing words") == "t0k3n"


def test_a_user_already_in_system_authenticated_is_not_given_it_twice():
    tokens = {"t": pki.StaticToken("t", "carol", "1", ("system:authenticated",))}
    assert authenticate(None, "Bearer t", tokens).groups == ("system:authenticated",)


def test_tokens_read_from_the_token_file_authenticate(tmp_path):
    path = pki.token_file(tmp_path / "tokens.csv", [("abc", "dave", "5", ("g1", "g2"))])
    found = authenticate(None, "Bearer abc", pki.read_token_file(path))
    assert found == User("dave", ("g1", "g2", "system:authenticated"), "5")


def test_the_401_body_is_the_real_api_servers():
    assert unauthorized_status() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_user_info_for_reviews_lists_name_groups_uid_and_extra():
    user = User("u", ("g", "system:authenticated"), "9", {"k": ("v",)})
    assert user.to_user_info() == {"username": "u", "groups": ["g", "system:authenticated"],
                                   "uid": "9", "extra": {"k": ["v"]}}


def test_a_der_blob_that_is_not_a_certificate_names_nobody():
    assert authenticate(b"not a certificate", None, TOKENS) is None


# -- bootstrap tokens -------------------------------------------------------------------

def bootstrap_secret(expiration=None, usage="true", extra_groups=None, type_=None):
    import base64
    data = {"token-id": "abcdef", "token-secret": "0123456789abcdef",
            "usage-bootstrap-authentication": usage}
    if expiration:
        data["expiration"] = expiration
    if extra_groups:
        data["auth-extra-groups"] = extra_groups
    return {"apiVersion": "v1", "kind": "Secret",
            "type": type_ or "bootstrap.kubernetes.io/token",
            "metadata": {"name": "bootstrap-token-abcdef", "namespace": "kube-system"},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def bootstrap_user(secret, header="Bearer abcdef.0123456789abcdef"):
    from kfs.apiserver import authn
    return authn.user_from_bootstrap_token(
        header, lambda name: secret if name == "bootstrap-token-abcdef" else None)


def test_a_bootstrap_token_names_system_bootstrap_id_in_the_bootstrappers():
    user = bootstrap_user(bootstrap_secret(
        extra_groups="system:bootstrappers:kubeadm:default-node-token"))
    assert user.name == "system:bootstrap:abcdef"
    assert user.groups == ("system:bootstrappers",
                           "system:bootstrappers:kubeadm:default-node-token")


def test_a_wrong_secret_or_an_unknown_id_is_nobody():
    assert bootstrap_user(bootstrap_secret(), "Bearer abcdef.ffffffffffffffff") is None
    assert bootstrap_user(bootstrap_secret(), "Bearer zzzzzz.0123456789abcdef") is None
    assert bootstrap_user(bootstrap_secret(), "Bearer not-a-bootstrap-token") is None


def test_an_expired_token_is_nobody_and_an_unexpired_one_works():
    assert bootstrap_user(bootstrap_secret(expiration="2000-01-01T00:00:00Z")) is None
    assert bootstrap_user(bootstrap_secret(expiration="2999-01-01T00:00:00Z")) is not None


def test_a_token_not_meant_for_authentication_or_of_another_type_is_nobody():
    assert bootstrap_user(bootstrap_secret(usage="false")) is None
    assert bootstrap_user(bootstrap_secret(type_="Opaque")) is None


def test_extra_groups_outside_system_bootstrappers_make_the_token_nobody():
    assert bootstrap_user(bootstrap_secret(extra_groups="system:masters")) is None
