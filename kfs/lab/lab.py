"""The netns lab: the machines the course's cluster runs on, on one Linux host.

``Lab.up(nodes, stage)`` makes the lab match what was asked, whatever state it is in:
it creates what is missing, restarts what died, leaves alone what runs, and stops the
components of later stages; a node ``kfs lab stop-node`` stopped (``stopped`` in the
record) stays stopped until ``kfs lab start-node``. ``down`` removes everything ``up``
created, processes by PID.

The lab's record (``lab.json`` in its state directory) is written *before* anything is
created, so a crashed ``up`` still leaves ``down`` knowing what to remove.

The same class is the Vagrant lab (``kfs lab up --lab vagrant``, run on the VM ``cp``; the
record's ``kind``): its machines are then ``kfs.lab.vm.VM``, VirtualBox made their network,
and every stage runs unchanged through them.

What real clusters do differently: the machines are VMs or servers (kind uses a container
per node, with a nested containerd; the Vagrant lab uses VirtualBox VMs), provisioned once
by kubeadm or an installer rather than reconciled by one command.
"""
import fcntl
import ipaddress
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

from kfs import images
from kfs.lab import netns, stages, supervisor
from kfs.lab.errors import LabError
from kfs.lab.machine import Machine

KFS_HOME = images.KFS_HOME
KINDS = ("netns", "vagrant")


class Lab:
    def __init__(self, name=None, subnet=None, home=None):
        self.name = name or os.environ.get("KFS_LAB", "kfs")
        self.home = Path(home or KFS_HOME)
        self.dir = self.home / ("lab" if self.name == "kfs" else f"lab-{self.name}")
        self.state = self._read_state()
        subnet = subnet or self.state.get("subnet") or os.environ.get(
            "KFS_LAB_SUBNET", "192.168.56.0/24")
        self.subnet = ipaddress.ip_network(subnet)
        self.state.setdefault("subnet", str(self.subnet))

    # -- what the lab is made of --------------------------------------------------------

    @property
    def kind(self):
        """"netns" (namespaces on this host) or "vagrant" (the VMs of labs/Vagrantfile)."""
        return self.state.get("kind", "netns")

    def new_machine(self, name, ip, docker_opts=(), joined=False):
        stopped = name in self.stopped
        if self.kind == "vagrant":
            from kfs.lab.vm import VM
            return VM(name, ip, self.name, self.dir, list(docker_opts), joined, stopped,
                      here=name in ("cp", "lb"))   # kfs runs on cp (the lb is cp's, too)
        return Machine(name, ip, self.name, self.dir, list(docker_opts), joined, stopped)

    @property
    def bridge(self):
        return f"{self.name}0"

    @property
    def chain(self):
        return f"{self.name.upper()}-LAB"

    @property
    def host_ip(self):
        return str(self.subnet.network_address + 1)

    def address(self, index):
        """cp is .10, node1 .11, node2 .12, ..."""
        return str(self.subnet.network_address + 10 + index)

    @property
    def machines(self):
        """cp, node1..nodeN (``--nodes``), then the nodes ``kfs lab add-node`` added."""
        names = ["cp"] + [f"node{i}" for i in range(1, self.state.get("nodes", 0) + 1)]
        opts = self.state.get("docker_opts", {})
        own = [self.new_machine(n, self.address(i), opts.get(n, []))
               for i, n in enumerate(names)]
        return own + [self.new_machine(n, self.address(i), opts.get(n, []), True)
                      for n, i in self.joined.items()]

    @property
    def joined(self):
        """{name: address index} of the nodes added by ``kfs lab add-node``."""
        return dict(sorted(self.state.get("joined", {}).items(), key=lambda kv: kv[1]))

    @property
    def stopped(self):
        """Names of the nodes ``kfs lab stop-node`` stopped (``kfs.lab.nodes``): the stages
        start nothing on them, so ``up`` does not silently start a stopped instance again."""
        return sorted(self.state.get("stopped", []))

    @property
    def appliances(self):
        """Machines the lab's cloud runs that are not the cluster's: stage cloud's load
        balancer ``lb`` (a namespace with no Docker), while it exists."""
        from kfs.lab.stages import cloud
        lb = cloud.lb_machine(self)
        return [lb] if lb.dir.exists() and lb.exists() else []

    @property
    def nodes(self):
        return [m for m in self.machines if m.name != "cp"]

    def machine(self, name):
        for m in self.machines + self.appliances:
            if m.name == name:
                return m
        known = ", ".join(m.name for m in self.machines) or "none (run `kfs lab up`)"
        raise LabError(f"no machine {name!r} in the lab; machines: {known}")

    @property
    def pki_dir(self):
        return self.dir / "pki"

    @property
    def admin_kubeconfig(self):
        return self.dir / "admin.kubeconfig"

    def kubeconfig(self, component):
        """A component's kubeconfig: "kube-scheduler", "kubelet-node1", ..."""
        return self.dir / "kubeconfigs" / f"{component}.kubeconfig"

    @property
    def stage(self):
        return self.state.get("stage")

    @property
    def exists(self):
        return (self.dir / "lab.json").exists()

    # -- the record ---------------------------------------------------------------------

    def _read_state(self):
        try:
            return json.loads((self.dir / "lab.json").read_text())
        except (OSError, ValueError):
            return {}

    def save(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.dir / "lab.json.tmp"
        tmp.write_text(json.dumps(self.state, indent=1, sort_keys=True))
        tmp.replace(self.dir / "lab.json")

    @contextmanager
    def locked(self):
        """One `up` or `down` at a time (a notebook cell and a terminal may race)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self.state = self._read_state() or self.state
            yield

    # -- up, down, status ---------------------------------------------------------------

    def up(self, nodes=None, stage=None, progress=print, **options):
        """Create or repair the lab and bring it to `stage` (default: the stage it is at,
        or `machines` for a new lab), with `nodes` node machines (default: as it is, or 2).
        A change of the number of etcd members first says what it does to the objects."""
        check_host()
        stage = stage or self.state.get("stage") or "machines"
        if stage not in stages.STAGES:
            raise LabError(f"unknown stage {stage!r}; stages: {', '.join(stages.STAGES)}")
        with self.locked():
            check_kind(self, options.get("kind"))
            old = self.machines
            check_joined(self, nodes, stage)
            check_stopped(self, options.get("etcd_members"))
            from kfs.lab.stages.apiserver import etcd_move
            move = etcd_move(self, options.get("etcd_members"))
            if move:  # said before anything is done
                progress(move)
            self.state["nodes"] = nodes if nodes is not None else self.state.get("nodes", 2)
            self.state.update({k: v for k, v in options.items() if v is not None})
            self.save()
            for m in old:
                if m.name not in {n.name for n in self.machines}:
                    progress(f"removing machine {m.name}")
                    remove_machine(m)
            forget_stopped(self)
            stages.bring_to(self, stage, progress)
            self.state["stage"] = stage
            self.save()
        return self

    def down(self, progress=print):
        with self.locked():
            if not self.state:
                progress(f"no lab {self.name!r} here")
            stages.bring_to(self, None, progress)
            for m in self.machines:
                progress(f"removing machine {m.name}")
                remove_machine(m)
            if self.kind == "netns":
                netns.remove_firewall(self.chain)
                netns.remove_bridge(self.bridge)
            if self.state.get("ip_forward_was") == "0":
                netns.sysctl("net.ipv4.ip_forward", 0)
            shutil.rmtree(Path("/run") / self.name, ignore_errors=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            self.state = {}

    def status(self):
        """One row per machine: address, namespace, daemons and components with PIDs, and
        the pod subnet flanneld leased it (None before stage ``flannel``)."""
        from kfs.lab.stages import flannel
        rows = []
        for m in self.machines:
            daemons = {d.name: supervisor.pid_of(d) for d in
                       [m.containerd(), m.dockerd(), *m.components()]}
            rows.append({"machine": m.name, "address": m.ip,
                         "netns": (m.netns or "vm") if m.exists() else None,
                         "daemons": daemons, "subnet": flannel.subnet(m),
                         "stopped": m.stopped})
        for m in self.appliances:  # no Docker there
            rows.append({"machine": m.name, "address": m.ip, "netns": m.netns or "vm",
                         "daemons": {d.name: supervisor.pid_of(d) for d in m.components()},
                         "subnet": None, "stopped": False})
        return rows


def check_joined(lab, nodes, stage):
    """Nodes added with add-node need the controller manager (it signs their certificates)
    and keep their names and addresses: refuse what would take either away."""
    if not lab.joined:
        return
    added = ", ".join(lab.joined)
    if not stages.at_least("controller-manager", stage):
        raise LabError(f"the lab has nodes added with add-node ({added}), which need stage "
                       f"controller-manager or later; remove them first: kfs lab remove-node NAME")
    wanted = [f"node{i}" for i in range(1, (nodes or 0) + 1)]
    taken = [n for n in wanted if n in lab.joined] or (
        [n for n, i in lab.joined.items() if i <= (nodes or 0)])
    if taken:
        raise LabError(f"--nodes {nodes} would need {', '.join(taken)}, added with add-node; "
                       f"remove it first (kfs lab remove-node NAME) or use fewer nodes")


def check_stopped(lab, etcd_members=None):
    """Stopped nodes stay stopped through ``up``, but not an etcd member: without it a
    3-member etcd has no room for another failure."""
    count = int(etcd_members or lab.state.get("etcd_members") or 1)
    members = ("node1", "node2") if count == 3 else ()
    held = [n for n in lab.stopped if n in members]
    if held:
        raise LabError(f"{', '.join(held)} is stopped (kfs lab stop-node) but runs an etcd "
                       f"member (--etcd-members 3): kfs lab start-node {held[0]} first")


def forget_stopped(lab):
    """A removed machine is no longer stopped: one of the same name made later runs."""
    names = {m.name for m in lab.machines}
    if any(n not in names for n in lab.stopped):
        lab.state["stopped"] = [n for n in lab.stopped if n in names]
        lab.save()


def check_kind(lab, kind):
    """A lab is netns or vagrant for its whole life (its machines are one or the other)."""
    if kind not in (None, *KINDS):
        raise LabError(f"unknown lab {kind!r}; labs: {', '.join(KINDS)}")
    if kind and lab.state.get("stage") and kind != lab.kind:
        raise LabError(f"lab {lab.name!r} is a {lab.kind} lab; take it down first "
                       f"(kfs lab down) to make it a {kind} lab")


def check_host():
    if os.geteuid() != 0:
        raise LabError("the netns lab needs root (it creates network namespaces and "
                       "iptables rules): run it with sudo, or use the Vagrant lab")
    for tool in ("ip", "iptables", "nsenter", "dockerd", "containerd"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            raise LabError(f"{tool} is missing: run the README's set-up "
                           "(python3 -m kfs.bootstrap) first")


def remove_machine(m):
    m.remove()
