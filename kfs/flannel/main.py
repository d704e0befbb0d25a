"""flanneld: lease this node a subnet of the pod network in etcd and route to the others.

``kfs flanneld --etcd-endpoints URL --etcd-cafile CA --etcd-certfile CRT --etcd-keyfile KEY
--iface 192.168.56.11 --subnet-file FILE [--ip-masq]`` runs one flannel daemon for its node,
as ``flanneld`` with the etcd subnet manager does (``main.go``): find the external
interface, read the network config from ``<prefix>/config`` (retrying every second until
there is a good one), let the backend (vxlan or host-gw, from the config) make its device
and take a lease, write the iptables rules, write ``subnet.env``, then watch the other
nodes' leases and renew its own until stopped. Flag names are upstream's;
``--subnet-lease-ttl`` is kfs's (upstream's TTL is a constant 24 h; the course shortens
it so that an expired lease can be watched going), and so is ``--cleanup``.

flanneld talks to etcd directly, as upstream (it is the one component besides the API
server that does), with its own etcd client certificate (``flanneld-etcd-client`` from the
etcd CA in ``kfs.pki``). Once its lease, device and subnet file are in place and the
leases of the nodes already there are routed, it logs ``flanneld started:``. Killing it
leaves everything in the kernel, so pods keep talking; restarted, it finds its lease by
its public IP (or its subnet by ``subnet.env``) and keeps the same subnet. If its lease is
deleted it exits with status 1, as upstream.

What real Kubernetes does differently: flannel runs as a DaemonSet with
``--kube-subnet-mgr`` (the subnet comes from the Node's ``spec.podCIDR``, the config from a
ConfigMap); it has a health endpoint, an nftables mode, IPv6, and tells systemd it is ready.
"""
import argparse
import logging
import shutil
import signal
import sys
import threading

from kfs.util import duration, setup_logging

log = logging.getLogger("kfs.flannel")

STARTED = "flanneld started:"


def boolean(text):
    if str(text).lower() in ("true", "1", "yes", "t"):
        return True
    if str(text).lower() in ("false", "0", "no", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean {text!r} (true or false)")


def add_arguments(parser):
    a = parser.add_argument
    a("--etcd-endpoints", default="http://127.0.0.1:4001,http://127.0.0.1:2379", metavar="URLS",
      help="a comma-delimited list of etcd endpoints")
    a("--etcd-prefix", default="/coreos.com/network", metavar="PREFIX", help="etcd prefix")
    a("--etcd-keyfile", metavar="FILE", help="SSL key file used to secure etcd communication")
    a("--etcd-certfile", metavar="FILE",
      help="SSL certification file used to secure etcd communication")
    a("--etcd-cafile", metavar="FILE",
      help="SSL Certificate Authority file used to secure etcd communication")
    a("--iface", action="append", default=[], metavar="NAME|IP",
      help="interface to use (IP or name) for inter-host communication; may repeat, the "
      "first that exists wins (default: the one of --public-ip, else of the default route)")
    a("--public-ip", metavar="IP", help="IP accessible by other nodes for inter-host "
      "communication (default: the interface's first address)")
    a("--subnet-file", default="/run/flannel/subnet.env", metavar="FILE",
      help="filename where env variables (subnet, MTU, ...) will be written to")
    a("--ip-masq", type=boolean, nargs="?", const=True, default=False, metavar="BOOL",
      help="setup IP masquerade rule for traffic destined outside of overlay network")
    a("--ip-masq-fully-random-disable", type=boolean, nargs="?", const=True, default=False,
      metavar="BOOL", help="disable fully-random mode for MASQUERADE")
    a("--iptables-forward-rules", type=boolean, nargs="?", const=True, default=True,
      metavar="BOOL", help="add default accept rules to FORWARD chain in iptables "
      "(default: true)")
    a("--iptables-resync", type=int, default=5, metavar="SECONDS",
      help="resync period for iptables rules, in seconds (default: 5)")
    a("--subnet-lease-renew-margin", type=float, default=60.0, metavar="MINUTES",
      help="subnet lease renewal margin, in minutes: renew this long before the lease "
      "expires (default: 60; kfs accepts fractions, for short course TTLs)")
    a("--subnet-lease-ttl", type=duration, default=24 * 3600.0, metavar="DURATION",
      help="kfs's: how long a lease lives unless renewed (default: 24h, upstream's fixed TTL)")
    a("--cleanup", action="store_true", help="kfs's: remove the vxlan device, the host-gw "
      "routes (of FLANNEL_NETWORK in --subnet-file) and the iptables rules, then exit")
    a("-v", "--v", type=int, default=2, dest="verbosity",
      help="log verbosity: 0 warnings only, 2 the daemon's story (default), 4 debug")


def check_args(args):
    """A message naming the flag to fix, or None."""
    margin = args.subnet_lease_renew_margin * 60
    if margin <= 0 or margin >= args.subnet_lease_ttl:
        return (f"--subnet-lease-renew-margin ({args.subnet_lease_renew_margin:g} minutes) must "
                f"be more than 0 and less than --subnet-lease-ttl ({args.subnet_lease_ttl:g}s)")
    if not [e for e in args.etcd_endpoints.split(",") if e.strip()]:
        return "--etcd-endpoints: at least one endpoint is needed, e.g. https://192.168.56.10:2379"
    if args.iptables_resync <= 0:
        return "--iptables-resync must be a positive number of seconds"
    for flag in ("etcd_cafile", "etcd_certfile", "etcd_keyfile"):
        path = getattr(args, flag)
        if path:
            try:
                open(path, "rb").close()
            except OSError as e:
                return f"--{flag.replace('_', '-')}: cannot read {path}: {e.strerror}"
    if bool(args.etcd_certfile) != bool(args.etcd_keyfile):
        return "--etcd-certfile and --etcd-keyfile go together"
    return None


# -- the steps of main -----------------------------------------------------------------------

def get_config(manager, ext, stopped):
    """The network config, retried every second until it is there and good (or stopped)."""
    from kfs.flannel.config import ConfigError
    from kfs.flannel.registry import ConfigNotFound
    from kfs.flannel.vxlan import parse_vxlan_config
    from kfs.storage.errors import Unavailable
    while not stopped.is_set():
        try:
            config = manager.get_network_config()
            if config.backend_type == "vxlan":
                parse_vxlan_config(config.backend, ext.mtu)
            log.info("found network config - Backend type: %s", config.backend_type)
            return config
        except ConfigNotFound as e:
            log.error("couldn't fetch network config: %s; put one, e.g. etcdctl put "
                      "%s/config '{\"Network\": \"10.244.0.0/16\", \"Backend\": "
                      "{\"Type\": \"vxlan\"}}'", e, manager.registry.prefix)
        except (ConfigError, Unavailable) as e:
            log.error("couldn't fetch network config: %s", e)
        stopped.wait(1.0)
    return None


def new_backend(config, manager, ext, nl):
    from kfs.flannel.hostgw import HostGWBackend
    from kfs.flannel.vxlan import VXLANBackend
    return {"vxlan": VXLANBackend, "host-gw": HostGWBackend}[config.backend_type](
        manager, ext, nl)


def register_network(backend, config, stopped):
    """The backend's network, its lease taken; retried while etcd is out of reach."""
    from kfs.storage.errors import Unavailable
    while not stopped.is_set():
        try:
            return backend.register_network(config)
        except Unavailable as e:
            log.error("failed to acquire lease (retrying): %s", e)
            stopped.wait(2.0)
    return None


def setup_traffic(args, ipt, config, lease, stopped):
    from kfs.flannel.iptables import TrafficManager
    from kfs.flannel.local_manager import start_thread
    traffic = TrafficManager(ipt)
    if args.ip_masq:
        traffic.setup_masq(config.network, lease.subnet, args.ip_masq_fully_random_disable)
    if args.iptables_forward_rules:
        traffic.setup_forward(config.network)
    if traffic.rules:
        start_thread(traffic.resync_loop, "iptables-resync", stopped, args.iptables_resync)
    return traffic


def run(args, manager, nl, ext, ipt, stopped, synced_timeout=30.0):
    """Everything after the flags: returns the exit status once stopped (or lease lost)."""
    from kfs.flannel.local_manager import start_thread
    from kfs.flannel.subnet import write_subnet_file
    config = get_config(manager, ext, stopped)
    if config is None:
        return 0
    network = register_network(new_backend(config, manager, ext, nl), config, stopped)
    if network is None:
        return 0
    lease = network.lease
    setup_traffic(args, ipt, config, lease, stopped)
    write_subnet_file(args.subnet_file, config.network, lease.subnet, network.mtu, args.ip_masq)
    log.info("wrote subnet file to %s", args.subnet_file)
    synced = threading.Event()
    start_thread(network.run, "watch-leases", stopped, synced)
    for _ in range(int(synced_timeout * 10)):     # short waits, for a signal's sake
        if synced.wait(0.1) or stopped.is_set():
            break
    else:
        log.warning("the other nodes' leases are not listed yet; going on")
    device = getattr(getattr(network, "dev", None), "name", ext.name)
    log.info("%s lease %s (public IP %s), backend %s, device %s, MTU %d, subnet file %s",
             STARTED, lease.subnet, lease.attrs.public_ip, config.backend_type, device,
             network.mtu, args.subnet_file)
    renewer = start_thread(keep_lease, "renew-lease", manager, stopped)
    try:
        while not stopped.wait(1.0):   # short waits: a signal handler runs between them
            pass
    finally:
        manager.stop(stopped)
        renewer.join(10)
    return 1 if manager.lost else 0


def keep_lease(manager, stopped):
    """``CompleteLease`` in its own thread; its end (lease lost or stopped) stops all."""
    from kfs.flannel.local_manager import LeaseLost
    try:
        manager.complete_lease(stopped)
    except LeaseLost:
        pass
    finally:
        stopped.set()


def cleanup(args, nl, ipt):
    """``--cleanup``: the device, host-gw's routes, the iptables rules."""
    from kfs.flannel import iptables
    from kfs.flannel.subnet import read_cidr
    for link in nl.links():
        if link.kind == "vxlan" and (link.name or "").startswith("flannel."):
            nl.delete_link(link.index)
            log.info("deleted %s", link.name)
    network = read_cidr(args.subnet_file, "FLANNEL_NETWORK")
    for route in nl.routes() if network else []:
        if route.gw and route.dst.subnet_of(network):
            nl.route_del(route)
            log.info("deleted route %s via %s", route.dst, route.gw)
    iptables.cleanup(ipt)
    return 0


def main(args):
    setup_logging(args.verbosity)
    logging.getLogger("pyroute2").setLevel(logging.WARNING)   # its debug is per message
    problem = check_args(args)
    if problem is None and not shutil.which("iptables-restore"):
        problem = "iptables-restore is not installed (python3 -m kfs.bootstrap installs it)"
    if problem:
        print(f"kfs flanneld: {problem}", file=sys.stderr)
        return 2
    from kfs.flannel.ip import InterfaceError, lookup_ext_iface
    from kfs.flannel.local_manager import LocalManager
    from kfs.flannel.netlink import Netlink
    from kfs.flannel.registry import EtcdRegistry
    from kfs.flannel.subnet import read_cidr
    from kfs.iptables import Iptables
    nl, ipt = Netlink(), Iptables()
    if args.cleanup:
        return cleanup(args, nl, ipt)
    try:
        ext = lookup_ext_iface(nl, args.iface, args.public_ip)
        registry = EtcdRegistry(args.etcd_endpoints, args.etcd_prefix, args.etcd_cafile,
                                args.etcd_certfile, args.etcd_keyfile)
    except (InterfaceError, ValueError) as e:
        print(f"kfs flanneld: {e}", file=sys.stderr)
        return 2
    log.info("using interface %s with address %s (public IP %s)", ext.name, ext.iface_addr,
             ext.ext_addr)
    manager = LocalManager(registry, read_cidr(args.subnet_file, "FLANNEL_SUBNET"),
                           args.subnet_lease_renew_margin * 60, args.subnet_lease_ttl)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        return run(args, manager, nl, ext, ipt, stopped)
    except KeyboardInterrupt:
        stopped.set()
        return 0
    except ValueError as e:   # host-gw behind NAT
        print(f"kfs flanneld: {e}", file=sys.stderr)
        return 2
    finally:
        registry.close()
