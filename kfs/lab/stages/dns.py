"""Lab stage ``dns``: ``kfs dns`` on ``cp``, the Service ``kube-system/kube-dns`` at
10.96.0.10 pointing at it, and every kubelet told to give its pods that nameserver.

What kubeadm's ``addon/dns`` phase sets up, as the talk's other components run:

1. **the process**: ``kfs dns`` in cp's network namespace with a visible command line
   (``kfs lab status``, ``<lab>/cp/dns.cmd``), its own client certificate (CN
   ``system:kube-dns``, the ``kube-dns`` kubeconfig that ``credentials.py`` writes) and the
   ClusterRole ``system:kube-dns`` (list and watch Services, EndpointSlices, Namespaces) the
   API server bootstraps. It serves on cp's lab address (UDP and TCP 53, metrics 9153,
   /health 8080, /ready 8181) and waits until its informers have synced. The lab has no
   internet: the host's resolver does not answer from inside it, so names outside
   ``cluster.local`` are refused at once (``--upstream none``) instead of timing out;
2. **the Service** ``kube-dns`` in ``kube-system``, ClusterIP 10.96.0.10, ports ``dns``
   53/UDP, ``dns-tcp`` 53/TCP, ``metrics`` 9153/TCP, without a selector, and its
   EndpointSlice ``kube-dns`` naming cp's address: written again at every ``up``, the way
   the API server keeps the ``kubernetes`` Service's endpoints pointing at itself, so pods
   reach the DNS server through kube-proxy like any Service;
3. **the kubelets** get ``--cluster-dns 10.96.0.10 --cluster-domain cluster.local`` from
   this stage on (``kubelet.py`` adds them, which restarts each kubelet once): pods
   created afterwards have ``nameserver 10.96.0.10`` and the cluster's search path.

``down`` stops ``kfs dns`` and deletes the Service and its EndpointSlice; the kubelet stage
then drops the two flags again. Its log: ``kfs lab logs dns``.

What real Kubernetes does differently: kubeadm deploys CoreDNS as a Deployment of two pods
in kube-system (service account ``coredns``, a Corefile in a ConfigMap) behind the
Service ``kube-dns``, whose EndpointSlice the EndpointSlice controller fills from the pods'
readiness; the upstream is the node's resolv.conf.
"""
from kfs.dns.main import STARTED
from kfs.lab import supervisor
from kfs.lab.errors import LabError

NAME = "dns"
KUBECONFIG = "kube-dns"
NAMESPACE, SERVICE = "kube-system", "kube-dns"
CLUSTER_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
DNS_PORT, METRICS_PORT, HEALTH_PORT, READY_PORT = 53, 9153, 8080, 8181
PORTS = [("dns", DNS_PORT, "UDP"), ("dns-tcp", DNS_PORT, "TCP"),
         ("metrics", METRICS_PORT, "TCP")]
MANAGER = "kfs-lab"


def daemon(lab):
    cp = lab.machine("cp")
    argv = [supervisor.kfs_command(), "dns", "--kubeconfig", str(lab.kubeconfig(KUBECONFIG)),
            "--bind-address", cp.ip, "--port", str(DNS_PORT),
            "--cluster-domain", CLUSTER_DOMAIN, "--upstream", "none",
            "--metrics-bind-address", f"{cp.ip}:{METRICS_PORT}",
            "--health-port", str(HEALTH_PORT), "--ready-port", str(READY_PORT)]
    return cp.daemon(NAME, argv)


def service():
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE,
                         "labels": {"k8s-app": "kube-dns",
                                    "kubernetes.io/name": "CoreDNS"}},
            "spec": {"type": "ClusterIP", "clusterIP": CLUSTER_IP,
                     "ports": [{"name": n, "port": p, "protocol": proto, "targetPort": p}
                               for n, p, proto in PORTS]}}


def endpoint_slice(ip):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": SERVICE, "namespace": NAMESPACE,
                         "labels": {"kubernetes.io/service-name": SERVICE,
                                    "endpointslice.kubernetes.io/managed-by": MANAGER}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip], "conditions": {"ready": True},
                           "nodeName": "cp"}],
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in PORTS]}


def admin(lab):
    from kfs.client import Client
    return Client.from_kubeconfig(str(lab.admin_kubeconfig), user_agent="kfs-lab")


def ensure_service(lab):
    """The Service and its EndpointSlice, created or brought back to what they must be
    (replaced whole: two ports 53 differ by protocol only)."""
    from kfs.client import ApiError
    client = admin(lab)
    for resource, body in (("services", service()),
                           ("endpointslices", endpoint_slice(lab.machine("cp").ip))):
        try:
            current = client.get(resource, SERVICE, namespace=NAMESPACE)
        except ApiError as e:
            if e.code != 404:
                raise
            client.create(body)
            continue
        body["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if resource == "services":  # allocated by the API server
            body["spec"]["clusterIPs"] = current["spec"].get("clusterIPs") or [CLUSTER_IP]
        client.replace(body)


def up(lab, target, progress):
    if not lab.kubeconfig(KUBECONFIG).exists():
        raise LabError(f"no {lab.kubeconfig(KUBECONFIG)}: the apiserver stage writes it "
                       "(kfs lab up --stage apiserver)")
    d = daemon(lab)
    try:
        pid, _ = supervisor.ensure_started(d, STARTED)
    except (RuntimeError, TimeoutError) as e:
        raise LabError(str(e)) from None
    from kfs.client import ApiError
    try:
        ensure_service(lab)
    except ApiError as e:
        raise LabError(f"cannot write the Service {NAMESPACE}/{SERVICE} ({CLUSTER_IP}): "
                       f"{e} (is {CLUSTER_IP} taken by another Service? delete it and run "
                       "kfs lab up --stage dns again)") from None
    progress(f"dns on cp, pid {pid}: {d.command_line}")
    progress(f"service {NAMESPACE}/{SERVICE} {CLUSTER_IP} -> {lab.machine('cp').ip}:{DNS_PORT}")


def down(lab, progress):
    from kfs.client import ApiError
    pid = supervisor.stop(daemon(lab))
    if pid:
        progress(f"stopped kfs dns (pid {pid})")
    try:
        client = admin(lab)
        for resource in ("endpointslices", "services"):
            client.delete(resource, SERVICE, namespace=NAMESPACE)
            progress(f"deleted {resource} {NAMESPACE}/{SERVICE}")
    except (ApiError, OSError):
        pass  # gone already, or no API server (the apiserver stage is down too)
