"""The certificates API and bootstrap tokens against the real API server, with the real
kubectl: ``kubectl get csr``, ``kubectl certificate approve/deny``, a 422 naming the field,
and a bootstrap token's user creating a CSR but nothing else."""
import base64
import datetime
import json
import uuid

import yaml

from kfs import pki


def request_b64(cn="system:node:node9", orgs=("system:nodes",)):
    return base64.b64encode(pki.make_csr(pki.new_key(), cn, orgs)).decode()


def csr_manifest(name, **spec):
    return json.dumps({"apiVersion": "certificates.k8s.io/v1",
                       "kind": "CertificateSigningRequest", "metadata": {"name": name},
                       "spec": {"request": request_b64(), "usages": ["digital signature",
                                                                     "client auth"],
                                "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                                **spec}})


def row(kubectl, name):
    out = kubectl("get", "csr", name)
    header, line = out.splitlines()[:2]
    return header.split(), line.split()


def test_get_csr_prints_upstreams_columns_and_the_requester(kubectl):
    name = f"csr-{uuid.uuid4().hex[:8]}"
    kubectl("create", "-f", "-", input=csr_manifest(name, expirationSeconds=3600))
    header, cells = row(kubectl, name)
    assert header == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR", "REQUESTEDDURATION",
                      "CONDITION"]
    assert cells[0] == name and cells[2:] == [
        "kubernetes.io/kube-apiserver-client-kubelet", "kubernetes-admin", "60m", "Pending"]


def test_a_csr_created_by_server_side_apply_names_its_requester_too(kubectl):
    name = f"csr-{uuid.uuid4().hex[:8]}"
    kubectl("apply", "--server-side", "-f", "-", input=csr_manifest(name))
    assert row(kubectl, name)[1][3] == "kubernetes-admin"


def test_kubectl_certificate_approve_and_deny_set_the_condition(kubectl):
    approve, deny = (f"csr-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for name in (approve, deny):
        kubectl("create", "-f", "-", input=csr_manifest(name))
    out = kubectl("certificate", "approve", approve)
    assert out.strip() == f"certificatesigningrequest.certificates.k8s.io/{approve} approved"
    kubectl("certificate", "deny", deny)
    assert row(kubectl, approve)[1][-1] == "Approved"
    assert row(kubectl, deny)[1][-1] == "Denied"
    conditions = json.loads(kubectl("get", "csr", approve, "-o", "json"))["status"]["conditions"]
    assert [(c["type"], c["reason"]) for c in conditions] == [("Approved", "KubectlApprove")]
    r = kubectl.run("certificate", "deny", approve, check=False)
    assert r.returncode != 0 and "is already Approved" in r.stderr


def test_an_invalid_csr_is_a_422_naming_the_field(kubectl):
    r = kubectl.run("create", "-f", "-", check=False, input=csr_manifest(
        f"csr-{uuid.uuid4().hex[:8]}", signerName="not-a-signer", expirationSeconds=60))
    assert "is invalid" in r.stderr and "spec.signerName" in r.stderr
    assert "spec.expirationSeconds: Invalid value: 60" in r.stderr


def bootstrap_kubeconfig(cp, tmp_path, token):
    path = tmp_path / "bootstrap.kubeconfig"
    pki.write_kubeconfig(path, cp.server, cp.pki.ca, "bootstrap", token=token)
    return path


def token_secret(token_id, secret, expiration):
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
        "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
        "stringData": {"token-id": token_id, "token-secret": secret, "expiration": expiration,
                       "usage-bootstrap-authentication": "true",
                       "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token"}})


def test_a_bootstrap_token_may_create_a_csr_and_nothing_else(kubectl, cp, tmp_path):
    token_id, secret = pki.new_bootstrap_token()
    later = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    kubectl("create", "-f", "-", input=token_secret(token_id, secret,
                                                    later.strftime("%Y-%m-%dT%H:%M:%SZ")))
    env = {"KUBECONFIG": str(bootstrap_kubeconfig(cp, tmp_path, f"{token_id}.{secret}"))}
    whoami = kubectl.run("auth", "whoami", "-o", "json", env=env).stdout
    info = json.loads(whoami)["status"]["userInfo"]
    assert info["username"] == f"system:bootstrap:{token_id}"
    assert "system:bootstrappers:kubeadm:default-node-token" in info["groups"]
    name = f"node-csr-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "-f", "-", input=csr_manifest(name), env=env)
    assert row(kubectl, name)[1][3] == f"system:bootstrap:{token_id}"
    r = kubectl.run("get", "pods", "-A", check=False, env=env)
    assert f'User "system:bootstrap:{token_id}" cannot list resource "pods"' in r.stderr
    r = kubectl.run("certificate", "approve", name, check=False, env=env)
    assert r.returncode != 0 and "forbidden" in r.stderr.lower()


def test_an_expired_or_wrong_bootstrap_token_is_unauthorized(kubectl, cp, tmp_path):
    token_id, secret = pki.new_bootstrap_token()
    kubectl("create", "-f", "-", input=token_secret(token_id, secret, "2000-01-01T00:00:00Z"))
    for token in (f"{token_id}.{secret}", f"{token_id}.{'0' * 16}"):
        env = {"KUBECONFIG": str(bootstrap_kubeconfig(cp, tmp_path, token))}
        r = kubectl.run("get", "csr", check=False, env=env)
        assert "Unauthorized" in r.stderr


def test_kubectl_create_secret_stores_base64_data_and_get_counts_its_keys(kubectl, ns):
    kubectl("create", "secret", "generic", "s", "-n", ns, "--from-literal=user=alice",
            "--from-literal=password=s3cret")   # sent as protobuf
    data = json.loads(kubectl("get", "secret", "s", "-n", ns, "-o", "json"))["data"]
    assert base64.b64decode(data["password"]) == b"s3cret"
    header, line = kubectl("get", "secret", "s", "-n", ns).splitlines()[:2]
    assert header.split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert line.split()[:3] == ["s", "Opaque", "2"]
