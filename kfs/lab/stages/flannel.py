"""Lab stage ``flannel``: a pod subnet per node from etcd, Docker told to use it, vxlan between.

What the talk's flannel demo does by hand, in its order:

1. **the network config** is put into etcd at ``/coreos.com/network/config`` with
   ``etcdctl`` (``{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type":
   "vxlan"}}``), unless it is there already;
2. **``kfs flanneld``** starts on every node machine (the machines with a kubelet: ``cp``
   has none, so it runs no pods and needs no subnet), in the machine's network namespace,
   talking to etcd over TLS with its own client certificate (``flanneld-etcd-client``
   from the etcd CA), with ``--ip-masq``; it leases a /24, makes ``flannel.1`` and writes
   the machine's ``subnet.env`` (``/run/<lab>/<machine>/flannel/subnet.env``, what
   ``/run/flannel/subnet.env`` is on a real node); the stage waits for its
   ``flanneld started:`` line;
3. **Docker told to use the subnet**: the machine's dockerd is stopped, ``docker0``
   deleted (with its old 172.17.0.1 still on it, dockerd refuses a new ``--bip``) and
   dockerd started again (its network store deleted too, see ``restart_docker``) with
   ``--bip=$FLANNEL_SUBNET --mtu=$FLANNEL_MTU
   --ip-masq=false`` (what flannel's ``mk-docker-opts.sh`` makes of ``subnet.env`` when
   flanneld masquerades). The options are kept in the lab's record (``docker_opts``), so
   a dockerd that the ``machines`` stage restarts later keeps them.

**Pods that already ran**: stopping dockerd stops every container, so every pod's
sandbox dies. Nobody deletes a pod: each kubelet sees its pods' sandboxes exited, makes
new ones on the new ``docker0`` and reports the new ``podIP`` (read from Docker's
network settings of the sandbox), in 10.244.x.0/24; endpoints follow. (Upstream's docs
say to restart the pods after flannel changes Docker's bridge; here Docker's restart is
that restart.)

Running it again changes nothing (same config, same flanneld command line, same Docker
options). ``down`` undoes it all: flanneld stopped, ``kfs flanneld --cleanup`` (the
vxlan device and with it its routes, neighbours and FDB entries; the ``FLANNEL-*``
iptables rules), ``subnet.env`` removed, the leases and the config deleted from etcd,
and Docker back on its default bridge 172.17.0.0/16 (again with ``docker0`` deleted
first); pods get 172.17.0.x addresses again, the same way.

Mirrors the flannel set-up of the talk's Vagrant lab: a systemd unit for flanneld, a
drop-in for ``docker.service`` with ``EnvironmentFile=/run/flannel/subnet.env`` and
``--bip=${FLANNEL_SUBNET} --mtu=${FLANNEL_MTU}``.

What real Kubernetes does differently: the network is a CNI plugin, not Docker's bridge
(flannel's ``flannel`` CNI plugin reads ``subnet.env`` per pod sandbox and calls the
``bridge`` plugin, so nothing is restarted); flannel runs as a DaemonSet with
``--kube-subnet-mgr``, its subnet taken from the Node's ``spec.podCIDR`` (given out by the
controller manager's ``--allocate-node-cidrs``) and its config from a ConfigMap, with no
etcd of its own.
"""
import ipaddress
import json

from kfs.flannel.main import STARTED
from kfs.flannel.subnet import parse_subnet_env
from kfs.lab import stages, supervisor
from kfs.lab.errors import LabError
from kfs.lab.stages.apiserver import ETCD_PORT, etcdctl_env
from kfs.lab.stages.credentials import etcd_machines

NAME = "flanneld"
PREFIX = "/coreos.com/network"
NETWORK = "10.244.0.0/16"
CONFIG = {"Network": NETWORK, "SubnetLen": 24, "Backend": {"Type": "vxlan"}}
DEVICE = "flannel.1"


def machines(lab):
    """The machines that run pods: those with a kubelet (the nodes)."""
    return lab.nodes


def subnet_file(machine):
    return machine.run_dir / "flannel" / "subnet.env"


def endpoints(lab):
    return ",".join(f"https://{m.ip}:{ETCD_PORT}" for m in etcd_machines(lab))


def daemon(lab, machine):
    p = lab.pki_dir
    argv = [supervisor.kfs_command(), "flanneld", f"--etcd-endpoints={endpoints(lab)}",
            f"--etcd-prefix={PREFIX}", f"--etcd-cafile={p / 'etcd-ca.crt'}",
            f"--etcd-certfile={p / 'flanneld-etcd-client.crt'}",
            f"--etcd-keyfile={p / 'flanneld-etcd-client.key'}",
            f"--iface={machine.ip}", f"--subnet-file={subnet_file(machine)}", "--ip-masq"]
    return machine.daemon(NAME, argv)


def docker_opts(machine):
    """What mk-docker-opts.sh makes of subnet.env (flanneld masquerades, so Docker must not)."""
    env = parse_subnet_env(machine.read(subnet_file(machine)))
    if not env.get("FLANNEL_SUBNET"):
        raise LabError(f"flanneld on {machine.name} wrote no FLANNEL_SUBNET to "
                       f"{subnet_file(machine)}; see {machine.dir / 'flanneld.log'}")
    return [f"--bip={env['FLANNEL_SUBNET']}", f"--mtu={env['FLANNEL_MTU']}", "--ip-masq=false"]


def subnet(machine):
    """The machine's FLANNEL_SUBNET (e.g. 10.244.1.1/24), or None (for ``kfs lab status``)."""
    return parse_subnet_env(machine.read(subnet_file(machine))).get("FLANNEL_SUBNET")


# -- etcd --------------------------------------------------------------------------------------

def etcdctl(lab, *argv, check=True):
    cp = lab.machine("cp")
    r = cp.run(["etcdctl", *argv], capture_output=True, text=True,
               env=etcdctl_env(lab, endpoints(lab)), timeout=20)
    if check and r.returncode != 0:
        raise LabError(f"etcdctl {' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


def network_config(lab):
    """The config in etcd as a dict, or None."""
    out = etcdctl(lab, "get", f"{PREFIX}/config", "--print-value-only").strip()
    try:
        return json.loads(out) if out else None
    except ValueError:
        return None


def leases(lab):
    """{etcd key: lease value} of every subnet leased under the prefix."""
    out = etcdctl(lab, "get", "--prefix", f"{PREFIX}/subnets/").splitlines()
    found = {}
    for key, value in zip(out[0::2], out[1::2]):
        try:
            found[key] = json.loads(value)
        except ValueError:
            continue
    return found


def release_lease(lab, machine):
    """Delete the machine's subnet lease (a removed node): the other flanneld hear it and
    drop their route, neighbour and FDB entry to it. Returns the keys deleted."""
    keys = [k for k, v in leases(lab).items() if v.get("PublicIP") == machine.ip]
    for key in keys:
        etcdctl(lab, "del", key)
    return keys


def put_config(lab, progress):
    if network_config(lab) != CONFIG:
        etcdctl(lab, "put", f"{PREFIX}/config", json.dumps(CONFIG))
        progress(f"flannel: etcdctl put {PREFIX}/config '{json.dumps(CONFIG)}'")


# -- Docker ------------------------------------------------------------------------------------

def restart_docker(lab, machine, opts):
    """dockerd stopped, docker0 and Docker's network store deleted, dockerd started with
    `opts` (kept in the record).

    Without ``--bip`` dockerd takes docker0's address again from the interface if it is
    still there, else from its network store (``<data-root>/network/files/local-kv.db``):
    both must go for it to come back on 172.17.0.0/16. The store holds nothing else the
    lab needs: every container stopped with dockerd, and the kubelet makes new ones.
    """
    lab.state.setdefault("docker_opts", {})
    if opts:
        lab.state["docker_opts"][machine.name] = opts
    else:
        lab.state["docker_opts"].pop(machine.name, None)
    lab.save()
    m = lab.machine(machine.name)             # with its new docker_opts
    supervisor.stop(m.dockerd(), timeout=30)
    if m.has_link("docker0"):
        m.run(["ip", "link", "del", "docker0"], capture_output=True, check=True, timeout=20)
    m.remove_files(m.dir / "docker" / "network" / "files" / "local-kv.db")
    if not m.stopped:   # a stopped machine's Docker starts with the machine
        m.start_runtime()
    return m


def docker_running_with(machine, opts):
    """Does the machine's dockerd run with exactly `opts` (and docker0 carry the --bip)?"""
    d = machine.dockerd()
    if supervisor.pid_of(d) is None or machine.docker_opts != opts:
        return False
    if machine.read(d.cmdfile).strip() != d.command_line:
        return False
    bip = next((o.split("=", 1)[1] for o in opts if o.startswith("--bip=")), None)
    return bip is None or bip in machine.addresses("docker0")


def forget_removed_machines(lab):
    """A removed node's Docker options go with it (a new node of that name starts plain)."""
    opts = lab.state.get("docker_opts") or {}
    for name in set(opts) - {m.name for m in lab.machines}:
        del opts[name]
        lab.save()


# -- up and down -------------------------------------------------------------------------------

def up(lab, target, progress):
    if not (lab.pki_dir / "flanneld-etcd-client.crt").exists():
        raise LabError("no flanneld etcd client certificate: the apiserver stage makes it "
                       "(kfs lab up --stage apiserver)")
    forget_removed_machines(lab)
    put_config(lab, progress)
    for m in stages.running(machines(lab)):
        d = daemon(lab, m)
        try:
            supervisor.ensure_started(d, STARTED)
        except (RuntimeError, TimeoutError) as e:
            raise LabError(str(e)) from None
        opts = docker_opts(m)
        if not docker_running_with(m, opts):
            progress(f"docker on {m.name}: restarting with {' '.join(opts)} (its pods' "
                     "sandboxes die; the kubelet makes new ones on the new bridge)")
            restart_docker(lab, m, opts)
        progress(f"flanneld {m.name:6} pid {supervisor.pid_of(d)}  subnet {subnet(m)}  "
                 f"docker {' '.join(opts)}")


def on_pod_network(machine):
    """Is the machine's docker0 on an address of the pod network (10.244.x.1)?"""
    network = ipaddress.ip_network(NETWORK)
    return any(ipaddress.ip_interface(a).ip in network
               for a in machine.addresses("docker0"))


def leftovers(lab, machine):
    return (supervisor.pid_of(daemon(lab, machine)) or machine.read(subnet_file(machine))
            or machine.docker_opts or machine.has_link(DEVICE) or on_pod_network(machine))


def down(lab, progress):
    forget_removed_machines(lab)
    touched = [m for m in lab.machines if leftovers(lab, m)]
    for m in touched:
        pid = supervisor.stop(daemon(lab, m))
        if m.exists():
            m.run([supervisor.kfs_command(), "flanneld", "--cleanup",
                   f"--subnet-file={subnet_file(m)}"], capture_output=True, timeout=60)
        m.remove_files(subnet_file(m).parent)
        progress(f"flanneld on {m.name} stopped" + (f" (pid {pid})" if pid else "") +
                 f": {DEVICE}, its routes and the FLANNEL rules removed")
    if touched and any(supervisor.pid_of(m.daemon("etcd", [])) for m in etcd_machines(lab)):
        etcdctl(lab, "del", "--prefix", f"{PREFIX}/", check=False)
        progress(f"flannel: etcdctl del --prefix {PREFIX}/")
    for m in touched:
        if (m.docker_opts or on_pod_network(m)) and m.exists():
            restart_docker(lab, m, [])
            progress(f"docker on {m.name}: back on its default bridge 172.17.0.0/16"
                     + (" when the machine starts" if m.stopped else ""))
        elif m.docker_opts:
            lab.state["docker_opts"].pop(m.name, None)
            lab.save()
