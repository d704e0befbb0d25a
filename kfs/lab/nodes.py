"""``kfs lab add-node [NAME]``, ``kfs lab remove-node NAME``: the IaaS creating and deleting
an instance, and the node joining and leaving the cluster; ``kfs lab stop-node NAME``,
``kfs lab start-node NAME``: the IaaS stopping an instance and starting it again.

**add-node** is what a cloud's "create instance" plus ``kubeadm join`` do:

1. a new machine (``node3``, at the next address: ``.13``), a network namespace with its
   own containerd and Docker, as the ``machines`` stage makes them; recorded in the lab's
   state (``joined``), so ``kfs lab up`` keeps and repairs it and ``kfs lab down`` removes it;
2. a **bootstrap token** for it (``kfs/lab/stages/join.py``): a Secret in kube-system, and
   on the machine a bootstrap kubeconfig and the CA, nothing else;
3. the lab's stages brought up again, which start on the new machine what the lab's stage
   runs on every node (the kubelet, kube-proxy, flanneld with Docker on its subnet): the
   same stage code as for node1 and node2. Its kubelet **joins**: it creates a client
   CSR as ``system:bootstrap:<id>``, the controller manager's csrapproving approves it
   (a SubjectAccessReview: kubeadm's binding lets the token's group have it
   auto-approved) and csrsigning signs it; the kubelet writes its kubeconfig, registers
   the Node and asks for its serving certificate;
4. the lab approves that serving request after checking it names this machine
   (`join.approve_serving_csrs`: upstream approves none), the kubelet serves :10250 with
   it, and add-node waits for the Node to be Ready.

**remove-node** is an operator taking a node out, then the IaaS deleting the instance:
``kubectl cordon`` and ``kubectl drain`` (evictions, which PodDisruptionBudgets may slow
down; the pods' controllers make new ones elsewhere), the machine deleted with everything
on it, then the Node: with a cloud-controller-manager (stage ``cloud`` and later) its node
lifecycle controller sees the instance gone and deletes the Node, which add-node only waits
for; without one, the lab deletes it as an operator would (``kubectl delete node``). The
garbage collector then deletes the Node's Lease (owned by the Node), and the lab deletes
the machine's flannel subnet lease, so every other flanneld drops its route to it, and
the bootstrap token.

Only machines added by add-node can be removed; node1 and node2 are the lab's own
(``kfs lab up --nodes N``). Both commands are idempotent: add-node NAME of a node already
added repairs it, and remove-node of one half-removed finishes the job.

**stop-node** is a cloud's "stop instance": every daemon of the machine stops (its kubelet,
kube-proxy, flanneld, then dockerd, which stops its containers, and containerd), and its
disk stays: the Docker data with its stopped containers, the kubelet's certificates, the
Docker options flannel gave it. The lab records it (``stopped`` in its record), so ``kfs lab
up`` repairs everything else and leaves it stopped (``kfs lab status`` says so), and at stage
``cloud`` rewrites the cloud's inventory (``running: false``). The cluster then sees what
it sees of a powered-off machine: the kubelet's heartbeats stop, the controller manager
marks the Node's Ready ``Unknown`` after its grace (20 s here) and taints it unreachable
(evicting its pods after their tolerations), and the cloud-controller-manager's node
lifecycle controller, asking the cloud about a NotReady Node, finds the instance there but
not running: it adds the ``node.cloudprovider.kubernetes.io/shutdown`` taint and does not
delete the Node. **start-node** clears the mark and brings the lab up again: the stages
start that machine's daemons with their own code, as ``kfs lab up`` repairs a dead one; the
kubelet finds its pods' containers exited and makes new sandboxes, the Node is Ready
again, and the cloud-controller-manager takes the shutdown taint off. Only nodes can be
stopped (not ``cp``, not the load balancer ``lb``), and not an etcd member; both commands
are idempotent.

What real clusters do differently: a cloud's machine image runs ``kubeadm join`` (or a
cloud-init script) at first boot; the cluster-autoscaler or Karpenter adds and removes
nodes by demand, draining them first the same way. A stopped cloud instance loses its
memory and (on many clouds) its public address; kube-controller-manager's node lifecycle
then also marks volumes attached to a shut-down node for detaching (non-graceful node
shutdown, with the ``node.kubernetes.io/out-of-service`` taint).
"""
import re
from contextlib import contextmanager

from kfs.client import ApiError
from kfs.lab import stages, supervisor
from kfs.lab.errors import LabError
from kfs.lab.lab import check_host, remove_machine
from kfs.lab.stages import cloud, flannel, join, kubelet, machines
from kfs.util import wait_for

NEEDS = "controller-manager"   # the stage whose controller manager signs the certificates
NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
JOIN_TIMEOUT = 120.0


@contextmanager
def api_answers(lab):
    """An API server that does not answer (or refuses) is a one-line error, not a traceback."""
    try:
        yield
    except ApiError as e:
        raise LabError(f"the API server: {e} (is the lab up? kfs lab up; logs: kfs lab logs "
                       f"apiserver)") from None


def has_cloud_controller_manager(stage):
    """Does the lab at `stage` run a cloud-controller-manager (which deletes gone Nodes)?"""
    return "cloud" in stages.STAGES and stages.at_least("cloud", stage)


def next_name(lab):
    """node<k> for the first k past every machine's number."""
    index = next_index(lab)
    taken = {m.name for m in lab.machines}
    while f"node{index}" in taken:
        index += 1
    return f"node{index}"


def next_index(lab):
    return max([lab.state.get("nodes", 0), *lab.joined.values()]) + 1


def check_can_join(lab):
    if not lab.exists:
        raise LabError(f"no lab {lab.name!r}: kfs lab up --stage {NEEDS} first")
    if lab.kind == "vagrant":
        raise LabError("in the Vagrant lab a new machine is a new VM: on the host, "
                       "KFS_NODES=3 vagrant up node3, then KFS_NODES=3 vagrant provision cp (its "
                       "provisioner brings the lab to --nodes 3)")
    if not stages.at_least(NEEDS, lab.stage):
        raise LabError(f"the lab is at stage {lab.stage!r}: a node joins with a bootstrap "
                       f"token, and the controller manager signs its certificate, so add-node "
                       f"needs stage {NEEDS} or later (kfs lab up --stage {NEEDS})")


def check_name(lab, name):
    if not NAME.fullmatch(name) or len(name) > 20:
        raise LabError(f"invalid node name {name!r}: lower case letters, digits and '-', "
                       "at most 20 characters, starting and ending with a letter or digit")
    own = [m.name for m in lab.machines if not m.joined]
    if name in own:
        raise LabError(f"{name} is one of the lab's own machines (kfs lab up --nodes N "
                       f"makes those); pick another name")


def node_exists(client, name):
    try:
        client.get("nodes", name)
        return True
    except ApiError as e:
        if e.not_found:
            return False
        raise


def node_ready(client, name):
    try:
        node = client.get("nodes", name)
    except ApiError:
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (node.get("status") or {}).get("conditions") or [])


def add_node(lab, name=None, progress=print, timeout=JOIN_TIMEOUT):
    """Create a machine and join it to the cluster (see the module); returns the machine."""
    check_host()
    check_can_join(lab)               # before the lock, which would make the lab's directory
    with lab.locked(), api_answers(lab):
        check_can_join(lab)
        name = name or next_name(lab)
        check_name(lab, name)
        client = join.admin(lab)
        if name in lab.stopped:
            raise LabError(f"{name} is stopped: kfs lab start-node {name} starts it")
        if name not in lab.joined and node_exists(client, name):
            raise LabError(f"a Node named {name} exists already (kubectl get node {name}); "
                           "pick another name")
        progress(f"adding machine {name}" if name not in lab.joined else
                 f"{name} was added before: repairing it")
        lab.state.setdefault("joined", {})[name] = lab.joined.get(name) or next_index(lab)
        lab.save()
        m = lab.machine(name)
        machines.network_up(lab, progress)
        machines.runtime_up(lab, progress, [m])
        join.ensure_bootstrap(lab, m, client, progress)
        stages.bring_to(lab, lab.stage, progress)
        m = lab.machine(name)
        wait_for_join(lab, m, client, progress, timeout)
    return m


def wait_for_join(lab, machine, client, progress, timeout):
    """Approve the machine's serving CSR once its kubelet asks, then wait for :10250 and
    the Node's Ready."""
    d = kubelet.daemon(lab, machine)

    def serving():
        if supervisor.pid_of(d) is None:
            raise LabError(f"the kubelet on {machine.name} exited; see {d.logfile}")
        join.approve_serving_csrs(machine, client, progress)
        return kubelet.listening(machine)
    try:
        wait_for(serving, timeout=timeout, interval=0.5,
                 what=f"the kubelet on {machine.name} to join and serve on :{kubelet.PORT}")
        wait_for(lambda: node_ready(client, machine.name), timeout=timeout, interval=0.5,
                 what=f"Node {machine.name} to be Ready")
    except TimeoutError as e:
        raise LabError(f"{e}; see {d.logfile}") from None
    progress(f"node {machine.name} joined: Ready, kubelet pid {supervisor.pid_of(d)}, "
             f"no certificate made for it by the lab")


def remove_node(lab, name, progress=print, timeout=JOIN_TIMEOUT):
    """Drain the node, delete its machine, then its Node (see the module)."""
    check_host()
    if not lab.exists:
        raise LabError(f"no lab {lab.name!r}, so no node {name!r} to remove")
    with lab.locked(), api_answers(lab):
        if name not in lab.joined:
            added = ", ".join(lab.joined) or "none"
            own = [m.name for m in lab.machines if not m.joined]
            why = (f"{name} is one of the lab's own machines (kfs lab up --nodes N changes "
                   "those)" if name in own else f"no node {name!r} was added with add-node")
            raise LabError(f"{why}; added with add-node: {added}")
        if name in lab.stopped:   # drain would wait for a kubelet that is not there
            raise LabError(f"{name} is stopped: kfs lab start-node {name} first, so that "
                           f"drain can move its pods, then remove it")
        m = lab.machine(name)
        client = join.admin(lab)
        if node_exists(client, name):
            drain(lab, name, progress)
        token = join.token_of(m)        # the machine's files go with it
        progress(f"removing machine {name}")
        remove_machine(m)
        delete_node(lab, client, name, progress, timeout)
        cleanup_after(lab, m, client, progress, timeout)
        secret = join.remove_token(token, client)
        if secret:
            progress(f"deleted the bootstrap token Secret kube-system/{secret}")
        lab.state["joined"].pop(name, None)
        (lab.state.get("docker_opts") or {}).pop(name, None)
        lab.save()


def drain(lab, name, progress):
    from kfs.kubectl import KubectlError, kubectl
    try:
        for argv in (("cordon", name),
                     ("drain", name, "--ignore-daemonsets", "--delete-emptydir-data",
                      "--force", "--timeout=120s")):
            out = kubectl(*argv, lab=lab, show=False, timeout=180)
            progress(f"$ kubectl {' '.join(argv)}\n{out.rstrip()}")
    except KubectlError as e:
        raise LabError(f"draining {name} failed: {e}") from None


def delete_node(lab, client, name, progress, timeout):
    """The Node goes: the cloud-controller-manager's job if the stage runs one, else the
    operator's (``kubectl delete node``)."""
    if has_cloud_controller_manager(lab.stage):
        cloud.write_config(lab)         # the cloud's inventory no longer has the machine
        progress(f"waiting for the cloud-controller-manager to delete Node {name}")
    elif node_exists(client, name):
        from kfs.kubectl import kubectl
        progress(kubectl("delete", "node", name, "--wait=false", lab=lab, show=False).rstrip())
    wait_for(lambda: not node_exists(client, name), timeout=timeout, interval=0.5,
             what=f"Node {name} to be deleted")


def cleanup_after(lab, machine, client, progress, timeout):
    """What a gone Node leaves: its Lease (the garbage collector deletes it: the Node owns
    it) and its flannel subnet lease."""
    def lease_gone():
        try:
            client.get("leases", machine.name, "kube-node-lease")
            return False
        except ApiError as e:
            return e.not_found
    wait_for(lease_gone, timeout=timeout, interval=0.5,
             what=f"the garbage collector to delete Lease kube-node-lease/{machine.name}")
    if stages.at_least("flannel", lab.stage):
        for key in flannel.release_lease(lab, machine):
            progress(f"flannel: etcdctl del {key}")


# -- stop-node, start-node ------------------------------------------------------------------------

def check_can_stop(lab, name, verb="stop"):
    """Only a node of a netns lab, and not an etcd member, can be stopped (and started)."""
    if not lab.exists:
        raise LabError(f"no lab {lab.name!r}, so no node {name!r} to {verb}")
    if lab.kind == "vagrant":
        raise LabError("in the Vagrant lab a stopped machine is a halted VM: on the host, "
                       f"vagrant halt {name} (vagrant up {name} starts it again; then "
                       "kfs lab up on cp repairs its daemons)")
    nodes = [m.name for m in lab.nodes]
    if name not in nodes:
        what = {"cp": "cp is the control plane: only nodes can be stopped and started",
                cloud.LB_MACHINE: "lb is the cloud's load balancer: only nodes can be "
                "stopped and started"}.get(name, f"no node {name!r} in the lab")
        raise LabError(f"{what}; nodes: {', '.join(nodes) or 'none'}")
    if int(lab.state.get("etcd_members") or 1) == 3 and name in ("node1", "node2"):
        raise LabError(f"{name} runs an etcd member (--etcd-members 3): stopping it would "
                       "leave etcd one failure from losing its quorum; not done")


def stop_node(lab, name, progress=print):
    """Stop every daemon of the node's machine, keep its disk, mark it stopped (see the
    module); returns {daemon: pid} of those it stopped."""
    check_host()
    check_can_stop(lab, name)
    with lab.locked():
        check_can_stop(lab, name)
        was = name in lab.stopped
        lab.state["stopped"] = sorted({*lab.stopped, name})   # first: up leaves it alone
        lab.save()
        stopped = lab.machine(name).stop()
        if stopped:
            progress(f"stopped {name}: " + ", ".join(f"{n} (pid {p})" for n, p in stopped.items())
                     + "; its disk is kept")
        elif was:
            progress(f"{name} is stopped already")
        if has_cloud_controller_manager(lab.stage):
            cloud.write_config(lab)
            progress(f"cloud: the inventory says {name} is not running (the "
                     "cloud-controller-manager taints its Node once it is NotReady)")
    return stopped


def start_node(lab, name, progress=print, timeout=JOIN_TIMEOUT):
    """Clear the node's stopped mark and bring the lab up again, which starts its daemons;
    wait for its Node to be Ready (from stage apiserver on)."""
    check_host()
    check_can_stop(lab, name, verb="start")
    with lab.locked(), api_answers(lab):
        check_can_stop(lab, name, verb="start")
        progress(f"starting {name}" if name in lab.stopped else
                 f"{name} is not stopped: repairing it as kfs lab up does")
        lab.state["stopped"] = [n for n in lab.stopped if n != name]
        lab.save()
        stages.bring_to(lab, lab.stage, progress)   # its daemons, by the stages' own code
        if stages.at_least("apiserver", lab.stage):
            client = join.admin(lab)
            try:
                wait_for(lambda: node_ready(client, name), timeout=timeout, interval=0.5,
                         what=f"Node {name} to be Ready")
            except TimeoutError as e:
                raise LabError(f"{e}; see {lab.machine(name).dir / 'kubelet.log'}") from None
            progress(f"node {name} is Ready")
    return lab.machine(name)
