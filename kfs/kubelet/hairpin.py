"""Hairpin mode on a pod's bridge port: a pod can reach itself through its own Service.

Mirrors ``pkg/kubelet/network/hairpin/hairpin.go`` (``SetUpContainerPid``), which the
kubelet ran for ``--hairpin-mode=hairpin-veth``. A pod that connects to its Service's
ClusterIP may be DNATed by kube-proxy to itself: the packet left the pod through its veth
into ``docker0``, and now has to go back out of the same bridge port. A Linux bridge never
sends a frame back where it came from unless that port is in hairpin mode.

``set_up_container_pid(pid)``: in the pod's network namespace (that of the sandbox's
process), find ``eth0``'s peer (its ``IFLA_LINK``, the index of the veth end on this
machine), then turn hairpin on for that bridge port — both over netlink (pyroute2), since
the kubelet runs in its machine's network namespace, where ``/sys/class/net`` (the host's
mount) does not show that machine's devices.

What real Kubernetes does differently: upstream finds the peer with ``ethtool -S`` and
writes ``/sys/devices/virtual/net/<veth>/brport/hairpin_mode``; with CNI (every cluster
today) the kubelet does nothing here and the bridge plugin's ``hairpinMode: true`` does it.
"""
import logging

log = logging.getLogger("kubelet")

HAIRPIN_VETH, NONE = "hairpin-veth", "none"
MODES = (HAIRPIN_VETH, NONE)


def peer_ifindex(pid, interface="eth0"):
    """The index, in our namespace, of the veth whose other end is `interface` of `pid`."""
    from pyroute2 import IPRoute
    with IPRoute(netns=f"/proc/{pid}/ns/net") as ipr:
        links = ipr.link("get", ifname=interface)
        return links[0].get("IFLA_LINK") if links else None


def set_hairpin(index):
    """``bridge link set dev <veth> hairpin on``; False if it is no bridge port here."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        links = ipr.link("get", index=index)
        if not links or not links[0].get("IFLA_MASTER"):
            return False
        ipr.brport("set", index=index, mode=1)   # IFLA_BRPORT_MODE: hairpin
        return True


def set_up_container_pid(pid, interface="eth0"):
    """Hairpin mode for the bridge port of the pod whose sandbox process is `pid`.
    Errors are logged, not raised: a pod without hairpin still works, except to itself."""
    try:
        index = peer_ifindex(pid, interface)
        if index is None or not set_hairpin(index):
            log.warning("no bridge port for %s of process %s: hairpin mode not set",
                        interface, pid)
            return False
        return True
    except Exception as e:   # netlink errors, the process already gone
        log.warning("cannot set hairpin mode for process %s: %s", pid, e)
        return False
