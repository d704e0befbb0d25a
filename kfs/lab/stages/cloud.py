"""Lab stage ``cloud``: the lab as an IaaS: ``kfs cloud-controller-manager`` on ``cp`` and a
load balancer machine, with every kubelet started ``--cloud-provider=external``.

What a cluster on a cloud has that the lab so far did not, in the order ``up`` does it:

1. **the cloud's inventory**: ``<lab>/cloud/cloud-config.json``, the ``--cloud-config`` of the
   netns provider (``kfs.cloud.netns``): the lab's name and subnet, the load balancer pool
   (.200–.250 of the lab's /24) and each machine with its address, zone and region
   (``cp`` and odd nodes in ``lab-a``, even nodes in ``lab-b``, region ``lab``; a node's
   number is its address's, .10 + k, so a machine ``add-node`` made keeps its zone when
   another one is removed), instance type (the lab's kind: ``netns`` or ``vagrant``) and
   whether it runs. It is written again at every ``up``, so a machine that ``kfs lab up
   --nodes N`` removed is gone from the cloud too: the IaaS deleted the instance (and by
   ``kfs lab stop-node``: a stopped one is there, not running);
2. **the load balancer machine** ``lb``: a network namespace ``<lab>-lb`` on the lab bridge at
   .199, no Docker, running ``kfs load-balancer`` (``kfs.cloud.loadbalancer``): it puts each
   balancer's address on its ``eth0`` and forwards its ports to the nodes' NodePorts,
   health-checking them on kube-proxy's :10256 (or the Service's ``healthCheckNodePort``);
   in the Vagrant lab ``lb`` is ``cp`` itself: the addresses go on cp's host-only NIC, with
   ``ipMode: Proxy`` in the Services' status (see ``ip_mode``);
3. **``kfs cloud-controller-manager``** in cp's namespace, its own client certificate (CN
   ``system:cloud-controller-manager``, the ClusterRole of that name the API server
   bootstraps), ``--cloud-provider netns --cloud-config ...``, ``--node-monitor-period 5s``
   (course-sized: with the controller manager's 20 s grace, a removed machine's Node is
   deleted about 25 s after its kubelet went silent);
4. **the kubelets** get ``--cloud-provider external`` from this stage on (``kubelet.py``): a
   Node registered afresh carries the taint ``node.cloudprovider.kubernetes.io/uninitialized``
   until the cloud node controller has written its providerID (``kfs://<lab>/<machine>``),
   addresses, zone and instance type. Nodes registered at an earlier stage exist already
   (a kubelet does not taint a Node it finds): ``up`` taints those that have no providerID,
   as an administrator moving a cluster to an external cloud provider does, and waits until
   the controller has initialized every Node.

``down`` stops the cloud-controller-manager and the load balancer, removes the ``lb``
machine and ``<lab>/cloud``; Services that had a load balancer lose their finalizer and
``status.loadBalancer`` (the cloud that would clean them up is gone), and Nodes lose the
uninitialized and shutdown taints; the kubelet stage then drops the flag. A Node keeps its
providerID and labels (a providerID, once set, never changes).

What real Kubernetes does differently: the cloud-controller-manager runs as a Deployment or
DaemonSet on the control plane (``--cloud-provider=external`` on the kubelets and the
controller manager), with leader election; the inventory, zones and load balancers are the
cloud's API, not a file and a namespace on the same host.
"""
import ipaddress
import json
import shutil

from kfs.cloud.cloud import provider_id
from kfs.cloud.controllers.node import UNINITIALIZED, is_uninitialized
from kfs.cloud.controllers.nodelifecycle import SHUTDOWN
from kfs.cloud.controllers.service import FINALIZER
from kfs.cloud.loadbalancer import STARTED as LB_STARTED
from kfs.cloud.main import STARTED
from kfs.cloud.netns import default_pool
from kfs.lab import supervisor
from kfs.lab.errors import LabError
from kfs.util import wait_for

NAME = "cloud-controller-manager"
KUBECONFIG = "cloud-controller-manager"
LB = "load-balancer"
LB_MACHINE = "lb"
LB_ADDRESS = 199          # .199, just below the pool
REGION = "lab"
NODE_MONITOR_PERIOD = "5s"


def zone(index):
    """cp (0) and odd nodes in lab-a, even nodes in lab-b: two failure domains."""
    return f"{REGION}-{'b' if index and index % 2 == 0 else 'a'}"


def index_of(lab, machine):
    """The machine's number, from its address (cp .10 is 0, node1 .11 is 1, ...): stable, as
    a position in lab.machines is not once a machine added before it is removed."""
    return int(ipaddress.ip_address(machine.ip)) - int(lab.subnet.network_address) - 10


def cloud_dir(lab):
    return lab.dir / "cloud"


def config_path(lab):
    return cloud_dir(lab) / "cloud-config.json"


def balancers_dir(lab):
    return cloud_dir(lab) / "balancers"


def pool(lab):
    return list(default_pool(str(lab.subnet)))


def lb_machine(lab):
    """The load balancer machine: a namespace with the lab's supervisor, no Docker (in the
    Vagrant lab, cp itself: its balancers' addresses go on cp's host-only NIC)."""
    return lab.new_machine(LB_MACHINE, str(lab.subnet.network_address + LB_ADDRESS))


# -- the inventory -------------------------------------------------------------------------------

def inventory(lab):
    """The machines as the cloud sees them: those whose namespace exists, with zones; one
    runs if its dockerd does, and ``kfs lab stop-node`` did not stop it."""
    return [{"name": m.name, "address": m.ip, "zone": zone(index_of(lab, m)),
             "region": REGION,
             "running": not m.stopped and supervisor.pid_of(m.dockerd()) is not None,
             "instance_type": lab.kind}
            for m in lab.machines if m.exists()]


def ip_mode(lab):
    """VIP in the netns lab (``lb`` is a machine of its own, with no kube-proxy); Proxy in the
    Vagrant lab, whose balancers' addresses are on cp: cp's kube-proxy would take traffic to
    them to pod addresses, and cp, with no flanneld, has no route to those."""
    return "Proxy" if lab.kind == "vagrant" else "VIP"


def write_config(lab):
    config = {"lab": lab.name, "subnet": str(lab.subnet), "pool": pool(lab),
              "balancersDir": str(balancers_dir(lab)), "ipMode": ip_mode(lab),
              "machines": inventory(lab)}
    cloud_dir(lab).mkdir(parents=True, exist_ok=True)
    tmp = config_path(lab).with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=1))
    tmp.replace(config_path(lab))
    return config


# -- the processes ---------------------------------------------------------------------------------

def ccm_daemon(lab):
    argv = [supervisor.kfs_command(), "cloud-controller-manager",
            "--kubeconfig", str(lab.kubeconfig(KUBECONFIG)),
            "--cloud-provider", "netns", "--cloud-config", str(config_path(lab)),
            "--node-monitor-period", NODE_MONITOR_PERIOD]
    return lab.machine("cp").daemon(NAME, argv)


def lb_device(lab, m):
    """Where the balancers' addresses go: the lb machine's eth0, or on a VM the NIC of the
    host-only network (eth0 is VirtualBox's NAT there, 10.0.2.15 on every VM)."""
    return "eth0" if m.netns else m.device_with(lab.machine("cp").ip) or "eth1"


def lb_daemon(lab, device="eth0"):
    argv = [supervisor.kfs_command(), "load-balancer", "--balancers-dir",
            str(balancers_dir(lab)), "--device", device]
    return lb_machine(lab).daemon(LB, argv)


def lb_up(lab):
    m = lb_machine(lab)
    m.dir.mkdir(parents=True, exist_ok=True)
    m.create(lab)
    return supervisor.ensure_started(lb_daemon(lab, lb_device(lab, m)), LB_STARTED)[0]


def lb_down(lab):
    m = lb_machine(lab)
    pid = supervisor.stop(lb_daemon(lab))
    m.remove()
    return pid


# -- the Nodes ------------------------------------------------------------------------------

def admin(lab):
    from kfs.client import Client
    return Client.from_kubeconfig(str(lab.admin_kubeconfig), user_agent="kfs-lab")


def taint_uninitialized(client, progress):
    """Nodes registered before the cloud: tainted for the cloud node controller to take."""
    for node in client.list("nodes")["items"]:
        if node["spec"].get("providerID") or is_uninitialized(node):
            continue
        taints = (node["spec"].get("taints") or []) + [
            {"key": UNINITIALIZED, "value": "true", "effect": "NoSchedule"}]
        client.patch("nodes", node["metadata"]["name"], {"spec": {"taints": taints}})
        progress(f"cloud: node {node['metadata']['name']} tainted {UNINITIALIZED} "
                 "(registered before the cloud)")


def initialized(client, lab):
    nodes = client.list("nodes")["items"]
    wanted = {m.name for m in lab.nodes}
    done = {n["metadata"]["name"] for n in nodes
            if n["spec"].get("providerID") and not is_uninitialized(n)}
    return wanted <= done


def up(lab, target, progress):
    if not lab.kubeconfig(KUBECONFIG).exists():
        raise LabError(f"no {lab.kubeconfig(KUBECONFIG)}: the apiserver stage writes it "
                       "(kfs lab up --stage apiserver)")
    write_config(lab)
    try:
        lb_pid = lb_up(lab)
        pid, _ = supervisor.ensure_started(ccm_daemon(lab), STARTED)
    except (RuntimeError, TimeoutError) as e:
        raise LabError(str(e)) from None
    progress(f"load balancer {lb_machine(lab).ip} pid {lb_pid}  pool {'-'.join(pool(lab))}")
    progress(f"cloud-controller-manager on cp, pid {pid}: {ccm_daemon(lab).command_line}")
    client = admin(lab)
    taint_uninitialized(client, progress)
    wait_for(lambda: initialized(client, lab), timeout=60, interval=0.3,
             what="the cloud node controller to initialize every Node "
                  f"(see {ccm_daemon(lab).logfile})")
    for m in lab.nodes:
        progress(f"cloud: node {m.name} is {provider_id(lab.name, m.name)}")


def release_services(client, progress):
    for s in client.list("services")["items"]:
        md = s["metadata"]
        if FINALIZER not in (md.get("finalizers") or []):
            continue
        if s.get("status", {}).get("loadBalancer"):
            client.patch("services", md["name"], {"status": {"loadBalancer": None}},
                         namespace=md["namespace"], subresource="status")
        kept = [f for f in md["finalizers"] if f != FINALIZER]
        client.patch("services", md["name"], {"metadata": {"finalizers": kept or None}},
                     namespace=md["namespace"])
        progress(f"cloud: service {md['namespace']}/{md['name']} lost its load balancer")


def untaint_nodes(client, progress):
    for n in client.list("nodes")["items"]:
        taints = n["spec"].get("taints") or []
        kept = [t for t in taints if t.get("key") not in (UNINITIALIZED, SHUTDOWN)]
        if kept != taints:
            client.patch("nodes", n["metadata"]["name"], {"spec": {"taints": kept or None}})
            progress(f"cloud: node {n['metadata']['name']}: the cloud's taints removed")


def down(lab, progress):
    from kfs.client import ApiError
    was_here = cloud_dir(lab).exists()
    pid = supervisor.stop(ccm_daemon(lab))
    if pid:
        progress(f"stopped the cloud-controller-manager (pid {pid})")
    if lb_down(lab):
        progress("stopped the load balancer and removed its machine")
    shutil.rmtree(cloud_dir(lab), ignore_errors=True)
    if not (was_here or pid) or not lab.admin_kubeconfig.exists():
        return
    try:
        client = admin(lab)
        client.timeout = 5
        release_services(client, progress)
        untaint_nodes(client, progress)
    except (ApiError, OSError):
        pass  # no API server (the apiserver stage is going down too)
