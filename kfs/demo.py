"""The README's main job: the lab up, then the whole talk with the real kubectl.

    kubectl apply -f deploy.yaml      (a Deployment of kfs/echo:1 with 5 replicas)
    → the controller manager creates a ReplicaSet
    → the ReplicaSet controller creates 5 Pod objects
    → the scheduler assigns each a node
    → each node's kubelet creates the containers in its machine's Docker
    kubectl apply -f service.yaml     (a Service of type LoadBalancer in front of them)
    → kube-proxy opens NodePort 30080 on every node
    → the cloud-controller-manager gets a load balancer address from the lab's cloud

Progress is shown while the pods come up; then `kubectl rollout status`, `kubectl get pods -o
wide`, the containers on each machine, the Service answering through its NodePort on each
node and through its LoadBalancer address, and the topology picture. The lab goes to the
last stage, ``cloud``; run again, it repairs what died and kubectl says ``unchanged``.
"""
import subprocess
import time
from pathlib import Path

from kfs.kubectl import kubectl
from kfs.lab.lab import Lab
from kfs.lab.stages import STAGES
from kfs.lab.status import print_status

MANIFESTS = Path(__file__).resolve().parent.parent / "notebooks" / "manifests"
MANIFEST = MANIFESTS / "deploy.yaml"
SERVICE_MANIFEST = MANIFESTS / "service.yaml"
NODE_PORT = 30080


def wait_for_rollout(client, name, replicas, timeout=300.0):
    """A progress bar of ready replicas until the Deployment has `replicas` available."""
    from tqdm import tqdm
    deadline = time.monotonic() + timeout
    with tqdm(total=replicas, desc=f"deployment/{name} ready pods", unit="pod") as bar:
        while time.monotonic() < deadline:
            status = client.get("deployments", name, "default").get("status", {})
            bar.n = min(status.get("availableReplicas", 0), replicas)
            bar.refresh()
            if bar.n == replicas and status.get("updatedReplicas") == replicas:
                return
            time.sleep(0.5)
    raise TimeoutError(f"deployment/{name} did not get {replicas} ready pods in {timeout:.0f}s; "
                       "see `kfs lab status` and `kfs lab logs kubelet`")


def external_ip(client, name, timeout=30.0):
    """The Service's status.loadBalancer.ingress address, once the cloud gave one."""
    from kfs.util import wait_for

    def ingress():
        status = client.get("services", name, "default").get("status", {})
        found = (status.get("loadBalancer") or {}).get("ingress") or []
        return found[0].get("ip") if found else None
    return wait_for(ingress, timeout, interval=0.2, what=f"service/{name}'s EXTERNAL-IP; see "
                    "`kfs lab logs cloud-controller-manager`")


def answer(url, tries=20):
    """`curl url` from the host: its first answer (the echo server names its pod)."""
    for _ in range(tries):
        r = subprocess.run(["curl", "-s", "-m", "2", url], capture_output=True, text=True)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.strip()
        time.sleep(0.5)
    raise RuntimeError(f"no answer from {url}; see `kfs lab status` and `kfs lab logs proxy`")


def main(args=None, lab=None):
    """The demo on `lab` (default: the lab ``KFS_LAB`` names, as ``kfs demo``)."""
    from kfs import viz
    from kfs.client import Client
    lab = (lab or Lab()).up(stage=STAGES[-1])
    print_status(lab)
    print()
    kubectl("apply", "-f", MANIFEST, lab=lab)
    client = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait_for_rollout(client, "echo", 5)
    kubectl("rollout", "status", "deployment/echo", "--timeout=60s", lab=lab)
    kubectl("get", "deployments,replicasets,pods", "-o", "wide", lab=lab)
    for m in lab.nodes:
        out = m.run(["docker", "ps", "--format", "{{.Names}}"], capture_output=True,
                    text=True).stdout.split()
        print(f"{m.name}: {len(out)} containers in its Docker")
    print()
    kubectl("apply", "-f", SERVICE_MANIFEST, lab=lab)
    ip = external_ip(client, "echo")
    kubectl("get", "service", "echo", lab=lab)
    for url in [f"http://{m.ip}:{NODE_PORT}/" for m in lab.nodes] + [f"http://{ip}/"]:
        print(f"$ curl {url}\n{answer(url)}")
    path = lab.dir / "topology.png"
    viz.topology(lab).savefig(path)
    print(f"topology picture: {path}")
