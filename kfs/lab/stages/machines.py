"""Lab stage ``machines``: the lab network, and every machine with its container runtime.

``up`` makes the host-only network (a bridge ``<lab>0`` at ``.1`` of the lab's subnet, the
lab's iptables chains that let its traffic through and out, IP forwarding) and one network
namespace per machine, cabled to the bridge with a veth pair (``cp`` at ``.10``, ``node1``
at ``.11``, ...); then it starts each machine's ``containerd`` and ``dockerd`` under the
lab's supervisor and loads the course's offline images into its Docker. It has no
``down``: ``kfs lab down`` (``Lab.down``) removes the machines and the network.

Mirrors what a Vagrantfile's VMs (or kind's node containers) and the container runtime's
systemd units give a real cluster before kubeadm runs.

What real clusters do differently: each machine is a VM or a server with its own kernel;
the network is a real switch or the cloud's VPC, and a runtime is installed once by the OS
image, not started by the course.
"""
from kfs import images
from kfs.lab import netns, supervisor


def up(lab, target, progress):
    network_up(lab, progress)
    runtime_up(lab, progress)


def network_up(lab, progress):
    """The host-only network (bridge, firewall chains, forwarding) and every machine on it.
    VMs need none of it (VirtualBox made their network): creating one waits for it."""
    if not any(m.netns for m in lab.machines):
        for m in lab.machines:
            m.create(lab)
        return
    if "ip_forward_was" not in lab.state:
        lab.state["ip_forward_was"] = netns.sysctl("net.ipv4.ip_forward")
        lab.save()
    netns.ensure_bridge(lab.bridge, f"{lab.host_ip}/{lab.subnet.prefixlen}")
    netns.ensure_firewall(lab.chain, lab.bridge, str(lab.subnet))
    netns.sysctl("net.ipv4.ip_forward", 1)
    for m in lab.machines:
        m.create(lab)


def runtime_up(lab, progress, machines=None):
    """containerd and dockerd on every machine (or on `machines`), with the course's images
    loaded."""
    for m in machines or lab.machines:
        if m.stopped:
            progress(f"machine {m.name:6} {m.ip:15} stopped (kfs lab start-node {m.name} "
                     "starts it)")
            continue
        m.start_runtime()
        loaded = images.load(m.docker_endpoint)
        pids = {d.name: supervisor.pid_of(d) for d in (m.containerd(), m.dockerd())}
        progress(f"machine {m.name:6} {m.ip:15} containerd {pids['containerd']}  "
                 f"dockerd {pids['dockerd']}" + (f"  loaded {', '.join(loaded)}" if loaded else ""))
