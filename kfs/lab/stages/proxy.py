"""Lab stage ``proxy``: ``kfs proxy`` on every machine with a kubelet, and on ``cp``.

``up`` starts (or keeps, or restarts with a changed command line) one proxy per machine, in
that machine's network namespace, so each writes the rules of its own machine's iptables:
``kfs lab exec node1 -- iptables-save -t nat`` shows node1's ``KUBE-SERVICES``. Each talks
to the API server as ``system:kube-proxy`` with the ``kube-proxy`` kubeconfig (the
certificate the ``apiserver`` stage made; the bootstrap RBAC policy binds that user to the
ClusterRole ``system:node-proxier``). The command line is upstream's flags:

- ``--hostname-override <machine>``: the Node whose address and local endpoints count;
- ``--cluster-cidr``: the pods' addresses, here Docker's bridge ``172.17.0.0/16`` (every
  node's the same: notebook 05's problem) and flannel's ``10.244.0.0/16`` from stage
  ``flannel`` on; traffic to a ClusterIP from outside it is masqueraded;
- ``--nodeport-addresses <lab subnet>``: NodePorts answer on the machine's lab address
  (``192.168.56.11:30080``), not on its Docker bridge.

``down`` stops them and runs ``kfs proxy --cleanup`` in each machine, which removes every
``KUBE-`` chain and jump rule of kube-proxy's (Docker's own rules stay, and so does
``KUBE-FIREWALL``, the kubelet's chain that kube-proxy only makes sure exists, as upstream's
``--cleanup`` leaves it). Logs:
``<lab>/<machine>/proxy.log`` (``kfs lab logs proxy --machine node1``).

What real Kubernetes does differently: kubeadm runs kube-proxy as a DaemonSet (one pod per
node, host network, privileged), configured by the ``kube-proxy`` ConfigMap
(KubeProxyConfiguration) rather than flags, with a ServiceAccount token as its identity.
"""

from kfs.lab import stages, supervisor
from kfs.lab.errors import LabError
from kfs.proxy.main import STARTED

NAME = "proxy"
KUBECONFIG = "kube-proxy"
DOCKER_BRIDGE_CIDR = "172.17.0.0/16"   # what every machine's Docker hands out before flannel
FLANNEL_CIDR = "10.244.0.0/16"


def machines(lab):
    """cp and every machine that runs a kubelet."""
    return [lab.machine("cp"), *lab.nodes]


def cluster_cidr(target):
    return FLANNEL_CIDR if stages.at_least("flannel", target) else DOCKER_BRIDGE_CIDR


def proxy_argv(lab, machine, target):
    return [supervisor.kfs_command(), "proxy",
            "--kubeconfig", str(lab.kubeconfig(KUBECONFIG)),
            "--hostname-override", machine.name,
            "--cluster-cidr", cluster_cidr(target),
            "--nodeport-addresses", str(lab.subnet)]


def daemon(lab, machine, target=None):
    return machine.daemon(NAME, proxy_argv(lab, machine, target) if target else [])


def up(lab, target, progress):
    if not lab.kubeconfig(KUBECONFIG).exists():
        raise LabError(f"no {lab.kubeconfig(KUBECONFIG)}: the apiserver stage writes it "
                       "(kfs lab up --stage apiserver)")
    for m in stages.running(machines(lab)):
        d = daemon(lab, m, target)
        try:
            pid, _ = supervisor.ensure_started(d, STARTED)
        except (RuntimeError, TimeoutError) as e:
            raise LabError(f"proxy on {m.name}: {e}") from None
        progress(f"proxy  {m.name:6} pid {pid}  {d.command_line}")


def down(lab, progress):
    for m in machines(lab):
        pid = supervisor.stop(daemon(lab, m))
        if pid:
            progress(f"stopped the proxy on {m.name} (pid {pid})")
        cleanup(m, progress)


def cleanup(machine, progress):
    """``kfs proxy --cleanup`` in the machine's namespace: its chains and jump rules go."""
    d = machine.daemon(NAME, [])
    if not machine.read(d.cmdfile) or not machine.exists():
        return   # no proxy ever ran here
    r = machine.run([supervisor.kfs_command(), "proxy", "--cleanup"], capture_output=True,
                    text=True, timeout=60)
    if r.returncode != 0:
        progress(f"kfs proxy --cleanup on {machine.name} failed: "
                 f"{(r.stderr or r.stdout).strip()[-300:]}")
    else:
        machine.remove_files(d.cmdfile)
        progress(f"removed the proxy's rules on {machine.name}")
