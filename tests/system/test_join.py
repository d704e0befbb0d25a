"""A machine that joins, for real: ``kfs lab add-node`` at stage flannel gives the lab a third
node whose kubelet has only a bootstrap token, and ``kfs lab remove-node`` takes it away.

One module fixture adds the node (the slow part: a machine, its Docker, the kubelet's two
CSRs, flanneld and Docker's restart on its subnet) and puts an echo pod on it and one on
each of node1 and node2; the tests look at the certificates, the pods and the network, and
the last one removes the node and checks that nothing of it is left: no pod, Node, Lease,
flannel lease or route.
"""
import base64
import ipaddress
import json
import subprocess

import pytest
from cryptography import x509

from kfs import images, meta
from kfs.lab import netns, nodes, supervisor
from kfs.lab.stages import flannel, join, kubelet
from kfs.util import wait_for

LABEL = {"test": "join"}
PODS = ("echo-joined", "echo-node1", "echo-node2")
OTHERS = ("node1", "node2")
quiet = dict(progress=lambda msg: None)
NETWORK = ipaddress.ip_network(flannel.NETWORK)


def echo_pod(name, node):
    """kfs/echo:1 on `node` (by the scheduler, through its hostname label), saying so first."""
    command = ["/bin/sh", "-c", f"echo {name} started; {images.ECHO_CMD}"]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": dict(LABEL)},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node},
                     "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "app", "image": "kfs/echo:1", "command": command}]}}


def running_ip(client, name, timeout=120):
    def check():
        p = client.get("pods", name, "default")
        ip = (p.get("status") or {}).get("podIP")
        return ip if meta.condition_true(p, "Ready") and ip else None
    return wait_for(check, timeout, interval=0.5, what=f"pod {name} Ready with an IP")


def delete_test_pods(client):
    """The echo pods, deleted at once (the Node may be gone: nobody waits for them)."""
    left = client.list("pods", "default", label_selector=LABEL)["items"]
    for name in {meta.name(p) for p in left} & set(PODS):
        client.delete("pods", name, "default", grace_period_seconds=0)
    wait_for(lambda: not client.list("pods", "default", label_selector=LABEL)["items"], 60,
             what=f"pods {', '.join(PODS)} to be gone")


@pytest.fixture(scope="module")
def joined(lab):
    """The lab at stage flannel with a node added: (client, machine, {pod: IP})."""
    from kfs.client import Client
    lab.up(stage="flannel", **quiet)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    delete_test_pods(client)
    machine = nodes.add_node(lab, **quiet)
    client.create(echo_pod("echo-joined", machine.name))
    for node in OTHERS:
        client.create(echo_pod(f"echo-{node}", node))
    ips = {n: running_ip(client, n) for n in PODS}
    yield client, machine, ips
    delete_test_pods(client)
    if machine.name in lab.joined:
        nodes.remove_node(lab, machine.name, **quiet)


def kubectl(lab, *argv):
    from kfs.kubectl import kubectl as run
    return run(*argv, lab=lab, show=False)


def csrs_of(client, username):
    """The CSRs `username` made (earlier joins of a node of the same name made some too)."""
    return [c for c in client.list("certificatesigningrequests")["items"]
            if c["spec"].get("username") == username]


def test_the_lab_made_no_certificate_for_the_joined_node(joined, lab):
    _, machine, _ = joined
    assert machine.joined and machine.name not in ("node1", "node2")
    assert not list(lab.pki_dir.glob(f"kubelet-{machine.name}*"))
    assert not lab.kubeconfig(f"kubelet-{machine.name}").exists()
    argv = kubelet.daemon(lab, machine).cmdfile.read_text()
    assert "--bootstrap-kubeconfig" in argv and "--rotate-server-certificates" in argv


def test_its_client_csr_was_approved_by_the_controller_manager_and_signed(joined, lab):
    client, machine, _ = joined
    token_id = join.token_of(machine).split(".")[0]
    (csr,) = csrs_of(client, f"system:bootstrap:{token_id}")
    assert csr["spec"]["signerName"] == "kubernetes.io/kube-apiserver-client-kubelet"
    approved = [c for c in csr["status"]["conditions"] if c["type"] == "Approved"]
    assert approved[0]["reason"] == "AutoApproved"
    cert = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
    assert cert.subject.rfc4514_string() == f"CN=system:node:{machine.name},O=system:nodes"
    table = kubectl(lab, "get", "csr")
    assert table.split("\n")[0].split() == ["NAME", "AGE", "SIGNERNAME", "REQUESTOR",
                                            "REQUESTEDDURATION", "CONDITION"]
    row = next(line for line in table.splitlines() if line.startswith(csr["metadata"]["name"]))
    assert row.split()[2:] == ["kubernetes.io/kube-apiserver-client-kubelet",
                               csr["spec"]["username"], "<none>", "Approved,Issued"]


def test_its_serving_csr_names_the_machine_and_was_approved_by_the_lab(joined):
    client, machine, _ = joined
    serving = join.serving_cert(machine).read_bytes()
    (csr,) = [c for c in csrs_of(client, f"system:node:{machine.name}")   # this join's
              if c["spec"]["signerName"] == "kubernetes.io/kubelet-serving"
              and base64.b64decode(c["status"].get("certificate", "")) in serving]
    assert [c["reason"] for c in csr["status"]["conditions"]] == [join.APPROVED_BY]
    cert = x509.load_pem_x509_certificate(base64.b64decode(csr["status"]["certificate"]))
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(i) for i in sans.get_values_for_type(x509.IPAddress)] == [machine.ip]


def test_the_bootstrap_token_alone_may_not_read_pods(joined, lab):
    _, machine, _ = joined
    token = join.token_of(machine)
    out = subprocess.run(["kubectl", "--kubeconfig", str(join.bootstrap_kubeconfig(machine)),
                          "get", "pods"], capture_output=True, text=True, timeout=30)
    assert token and out.returncode != 0
    assert f'User "system:bootstrap:{token.split(".")[0]}" cannot list resource "pods"' \
        in out.stderr


def test_kubectl_logs_and_exec_reach_the_pod_on_the_joined_node(joined, lab):
    client, machine, ips = joined
    assert client.get("pods", "echo-joined", "default")["spec"]["nodeName"] == machine.name
    assert kubectl(lab, "exec", "echo-joined", "--", "hostname").strip() == "echo-joined"
    assert kubectl(lab, "logs", "echo-joined").strip() == "echo-joined started"


def test_the_pod_on_the_joined_node_and_the_pods_on_node1_and_node2_reach_each_other(joined,
                                                                                     lab):
    client, machine, ips = joined
    assert all(ipaddress.ip_address(ip) in NETWORK for ip in ips.values())
    for other in (f"echo-{node}" for node in OTHERS):
        for src, dst in (("echo-joined", other), (other, "echo-joined")):
            out = kubectl(lab, "exec", src, "--", "wget", "-qO-",
                          f"http://{ips[dst]}:8080/cgi-bin/index.cgi")
            assert f"hostname={dst} ip={ips[dst]} client={ips[src]}" in out


def test_up_keeps_the_added_node_and_status_lists_it(joined, lab, capsys):
    from kfs.lab.status import print_status
    client, machine, ips = joined
    pid = supervisor.pid_of(kubelet.daemon(lab, machine))
    lab.up(**quiet)
    assert supervisor.pid_of(kubelet.daemon(lab, machine)) == pid
    assert nodes.node_ready(client, machine.name)
    print_status(lab)
    out = capsys.readouterr().out
    assert f"added by kfs lab add-node (joined with a bootstrap token): {machine.name}" in out
    assert any(line.startswith(machine.name) and "kubelet" in line and "flanneld" in line
               for line in out.splitlines())


def test_remove_node_leaves_no_pod_node_lease_or_route_behind(joined, lab):
    client, machine, ips = joined
    subnet, token = flannel.subnet(machine), join.token_of(machine)
    nodes.remove_node(lab, machine.name, **quiet)
    assert machine.name not in lab.joined and machine.name not in [m.name for m in lab.machines]
    assert not netns.netns_exists(machine.netns)
    assert not [p for p in client.list("pods")["items"]
                if p["spec"].get("nodeName") == machine.name]
    assert machine.name not in [meta.name(n) for n in client.list("nodes")["items"]]
    assert machine.name not in [meta.name(le) for le in
                                client.list("leases", "kube-node-lease")["items"]]
    assert not [v for v in flannel.leases(lab).values() if v.get("PublicIP") == machine.ip]
    assert f"bootstrap-token-{token.split('.')[0]}" not in [
        meta.name(s) for s in client.list("secrets", "kube-system")["items"]]
    network = str(ipaddress.ip_interface(subnet).network)

    def routes_gone(node):
        out = subprocess.run(["ip", "-n", lab.machine(node).netns, "-j", "route"],
                             capture_output=True, text=True, check=True).stdout
        return network not in [r.get("dst") for r in json.loads(out)]
    for node in OTHERS:
        wait_for(lambda: routes_gone(node), 30, interval=0.5,
                 what=f"{node}'s route to {network} to go")
    # the echo pod's ReplicaSet-less pod is gone with its node; the others stay
    for node in OTHERS:
        assert running_ip(client, f"echo-{node}") == ips[f"echo-{node}"]
