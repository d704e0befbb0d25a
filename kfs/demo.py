"""The README's main job: the lab up, then the talk's basic flow with the real kubectl.

    kubectl apply -f deploy.yaml      (a Deployment of kfs/echo:1 with 5 replicas)
    → the controller manager creates a ReplicaSet
    → the ReplicaSet controller creates 5 Pod objects
    → the scheduler assigns each a node
    → each node's kubelet creates the containers in its machine's Docker

Progress is shown while the pods come up; the end is `kubectl rollout status`,
`kubectl get pods -o wide`, the containers on each machine and the topology picture.
"""
import time
from pathlib import Path

from kfs.kubectl import kubectl
from kfs.lab.lab import Lab
from kfs.lab.status import print_status

MANIFEST = Path(__file__).resolve().parent.parent / "notebooks" / "manifests" / "deploy.yaml"


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


def main(args=None):
    from kfs import viz
    from kfs.client import Client
    lab = Lab().up(stage="controller-manager")
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
    path = lab.dir / "topology.png"
    viz.topology(lab).savefig(path)
    print(f"topology picture: {path}")
