"""Small builders of the objects the controller unit tests feed to FakeApi."""
import copy
from datetime import datetime, timedelta, timezone

from kfs import meta


def ago(seconds):
    t = datetime.now(timezone.utc) - timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def template(labels, image="kfs/echo:1", **spec):
    return {"metadata": {"labels": dict(labels)},
            "spec": {"containers": [{"name": "c", "image": image}], **spec}}


def replicaset(name="web", replicas=3, labels=None, ns="default", min_ready=0, **extra):
    labels = labels or {"app": "web"}
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
          "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                   "template": template(labels)}}
    if min_ready:
        rs["spec"]["minReadySeconds"] = min_ready
    rs["metadata"].update(extra)
    return rs


def pod(name, labels=None, owner=None, node="node1", phase="Running", ready=True,
        ready_for=60, ns="default", ip=None, created_ago=100, **metadata):
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": ns, "labels": dict(labels or {"app": "web"}),
                      "creationTimestamp": ago(created_ago), **metadata},
         "spec": {"containers": [{"name": "c", "image": "kfs/echo:1"}]},
         "status": {"phase": phase,
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                    "lastTransitionTime": ago(ready_for)}]}}
    if node:
        p["spec"]["nodeName"] = node
    if ip:
        p["status"]["podIP"] = ip
    if owner is not None:
        p["metadata"]["ownerReferences"] = [meta.owner_reference(owner)]
    return p


def deployment(name="web", replicas=3, image="kfs/echo:1", labels=None, ns="default",
               strategy=None, **spec):
    labels = labels or {"app": name}
    d = {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": ns, "labels": dict(labels)},
         "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                  "template": template(labels, image),
                  "strategy": strategy or {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": "25%",
                                                             "maxUnavailable": "25%"}},
                  "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600, **spec}}
    return d


def service(name="web", selector=None, ports=None, ns="default", **spec):
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "labels": {"svc": name}},
            "spec": {"selector": selector if selector is not None else {"app": "web"},
                     "ports": ports if ports is not None else
                     [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}],
                     **spec}}


def node(name, ready=True, heartbeat_ago=0, taints=None):
    n = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
         "spec": {}, "status": {"conditions": [
             {"type": "Ready", "status": "True" if ready else "False", "reason": "KubeletReady",
              "lastHeartbeatTime": ago(heartbeat_ago), "lastTransitionTime": ago(600)}]}}
    if taints:
        n["spec"]["taints"] = copy.deepcopy(taints)
    return n


def lease(node_name, renewed_ago=0):
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node_name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": node_name, "leaseDurationSeconds": 40,
                     "renewTime": ago(renewed_ago).replace("Z", ".000000Z")}}


def csr(name="csr-1", cn="system:node:node3", orgs=("system:nodes",), ips=(), dns=(),
        signer="kubernetes.io/kube-apiserver-client-kubelet",
        usages=("digital signature", "client auth"), username="system:bootstrap:abcdef",
        groups=("system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                "system:authenticated"), key=None, **spec):
    """A CertificateSigningRequest as the API server stores it: the requester filled in."""
    import base64

    from kfs import pki
    pem = pki.make_csr(key or pki.new_key(), cn, orgs, ips, dns)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                     "usages": list(usages), "username": username, "groups": list(groups),
                     **spec}}
