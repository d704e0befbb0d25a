"""The iptables proxier: Services and EndpointSlices in, one ``iptables-restore`` out.

Mirrors ``pkg/proxy/iptables/proxier.go`` (``Proxier``, ``syncProxyRules``,
``CleanupLeftovers``), shrunk. Informer handlers only record changes
(``ServiceChangeTracker``, ``EndpointsChangeTracker``) and ask for a sync; the
``BoundedFrequencyRunner`` runs ``sync_proxy_rules`` at most every ``--min-sync-period``.
``sync_proxy_rules``:

1. applies the pending changes to ``svc_port_map`` and ``endpoints_map`` and learns which
   Services changed;
2. on a full sync (at start, after a failed restore, when the canary chain vanished, at
   least hourly) makes sure the jump rules from the built-in chains exist;
3. renders everything into line buffers: the top-level chains (nat ``KUBE-SERVICES``,
   ``KUBE-NODEPORTS``, ``KUBE-POSTROUTING``, ``KUBE-MARK-MASQ``; filter ``KUBE-SERVICES``,
   ``KUBE-EXTERNAL-SERVICES``, ``KUBE-FORWARD``, ``KUBE-NODEPORTS``, ``KUBE-PROXY-FIREWALL``)
   always, and each service port's own chains (``rules.write_service_rules``) only on a
   full sync or if that Service changed (KEP-3453, partial sync: unchanged chains are left
   as they are, since the restore runs with ``--noflush``);
4. finds our chains that nothing uses any more (``iptables-save -t nat``) and deletes them
   (``-X``);
5. applies it all in one ``iptables-restore --noflush --counters``, then updates the
   health checks, the metrics and, if a UDP Service's endpoints changed, conntrack.

Above 1,000 endpoints ("large cluster mode") rule comments are left out, which shrinks
the input by about 40 %, and stale chains are looked for at most once per ``--sync-period``.

What real Kubernetes does differently: dual-stack (an IPv4 and an IPv6 proxier behind a
MetaProxier), topology-aware endpoint choice, nfacct counters, and the nftables and IPVS
modes beside this one.
"""
import logging
import threading
import time
from datetime import datetime, timezone

from kfs.proxy import conntrack as conntrack_module
from kfs.proxy import rules
from kfs.proxy.endpointschangetracker import EndpointsChangeTracker, EndpointsMap
from kfs.iptables import RestoreError, extract_lines, get_chains_from_table
from kfs.proxy.rules import (JUMP_CHAINS, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_MARK_MASQ,
                             KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_PROXY_FIREWALL,
                             KUBE_SERVICES, KUBELET_FIREWALL, KUBELET_JUMP_CHAINS,
                             compute_probability, make_chain_line)
from kfs.proxy.runner import BoundedFrequencyRunner
from kfs.proxy.servicechangetracker import ServiceChangeTracker, ServicePortMap
from kfs.proxy.util import (FULL_SYNC_PERIOD, DiscardLineBuffer, LineBuffer, LocalTrafficDetector,
                            NodePortAddresses, local_ipv4_addresses)
from kfs.util import CommandError

log = logging.getLogger("kfs.proxy")

LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000
ROUTE_LOCALNET = "net/ipv4/conf/all/route_localnet"
TCP_BE_LIBERAL = "net/netfilter/nf_conntrack_tcp_be_liberal"
BRIDGE_NF_CALL_IPTABLES = "net/bridge/bridge-nf-call-iptables"


class Proxier:
    def __init__(self, iptables, node_name, sysctl, *, conntrack=None, sync_period=30.0,
                 min_sync_period=1.0, masquerade_all=False, masquerade_bit=14,
                 cluster_cidr=None, nodeport_addresses=(), localhost_nodeports=True,
                 node_ip=None, metrics=None, healthz=None, service_health=None,
                 local_addresses=None, clock=time.monotonic):
        self.iptables, self.sysctl, self.conntrack = iptables, sysctl, conntrack
        self.node_name, self.node_ip = node_name, node_ip
        self.sync_period, self.masquerade_all = sync_period, masquerade_all
        self.masquerade_mark = f"{1 << masquerade_bit:#x}"
        self.local_detector = LocalTrafficDetector(cluster_cidr)
        self.node_port_addresses = NodePortAddresses(nodeport_addresses, node_ip)
        self.localhost_nodeports = localhost_nodeports and \
            self.node_port_addresses.contains_loopback()
        if self.localhost_nodeports:   # NodePorts on 127.0.0.1 need route_localnet
            log.info("setting route_localnet=1 to allow node-ports on localhost")
            sysctl.set(ROUTE_LOCALNET, 1)
        self.conntrack_tcp_liberal = bool(sysctl.get(TCP_BE_LIBERAL))
        if not sysctl.get(BRIDGE_NF_CALL_IPTABLES):   # replies bridged between pods skip NAT
            log.warning("missing br-netfilter module or unset sysctl %s: a pod reaching a "
                        "Service whose endpoint is on the same bridge may not work",
                        BRIDGE_NF_CALL_IPTABLES)
        self.local_addresses = local_addresses or (lambda: local_ipv4_addresses(iptables.prefix))
        self.metrics, self.healthz, self.service_health = metrics, healthz, service_health
        self.clock = clock
        self.service_changes = ServiceChangeTracker(metrics)
        self.endpoints_changes = EndpointsChangeTracker(node_name, metrics)
        self.svc_port_map, self.endpoints_map = ServicePortMap(), EndpointsMap()
        self.services_synced = self.endpoint_slices_synced = False
        self.need_full_sync, self.last_full_sync, self.last_iptables_cleanup = True, None, None
        self.topology_labels = None
        self.large_cluster_mode = False
        self.no_local_endpoints = [0, 0]   # services with Local policy and no local endpoint
        self.precomputed_probabilities = []
        self.last_restore_data = None
        self.mu = threading.Lock()
        self.runner = BoundedFrequencyRunner("sync-runner", self.sync_proxy_rules,
                                             min_sync_period, 3600.0, clock=clock)

    # -- events from the informers ---------------------------------------------------------

    def is_initialized(self):
        return self.services_synced and self.endpoint_slices_synced

    def on_service_update(self, old, svc):
        if self.service_changes.update(old, svc) and self.is_initialized():
            self.sync()

    def on_service_add(self, svc):
        self.on_service_update(None, svc)

    def on_service_delete(self, svc):
        self.on_service_update(svc, None)

    def on_service_synced(self):
        with self.mu:
            self.services_synced = True
        self.sync_proxy_rules()

    def on_endpoint_slice_update(self, eps, remove=False):
        if self.endpoints_changes.endpoint_slice_update(eps, remove) and self.is_initialized():
            self.sync()

    def on_endpoint_slice_delete(self, eps):
        self.on_endpoint_slice_update(eps, remove=True)

    def on_endpoint_slices_synced(self):
        with self.mu:
            self.endpoint_slices_synced = True
        self.sync_proxy_rules()

    def on_node(self, node):
        """Our Node changed: topology labels force a full sync; deletion fails /healthz."""
        if self.healthz is not None:
            self.healthz.sync_node(node)
        labels = ((node or {}).get("metadata") or {}).get("labels") or {}
        topology = {k: v for k, v in labels.items() if k.startswith("topology.kubernetes.io/")}
        if topology != self.topology_labels:
            with self.mu:
                self.topology_labels, self.need_full_sync = topology, True
            self.sync()

    def force_sync_proxy_rules(self):
        """The canary vanished (someone flushed iptables): rewrite everything now."""
        with self.mu:
            self.need_full_sync = True
        self.sync_proxy_rules()

    def sync(self):
        if self.healthz is not None:
            self.healthz.queued_update()
        if self.metrics is not None:
            self.metrics.sync_proxy_rules_last_queued_timestamp.set_to_current_time()
        self.runner.run()

    # -- the sync --------------------------------------------------------------------------

    def probability(self, n):
        while len(self.precomputed_probabilities) <= n:
            i = len(self.precomputed_probabilities)
            self.precomputed_probabilities.append(compute_probability(i) if i else "<bad value>")
        return self.precomputed_probabilities[n]

    def service_comment(self, text):
        return [] if self.large_cluster_mode else ["-m", "comment", "--comment", text]

    def sync_proxy_rules(self):
        with self.mu:
            if not self.is_initialized():
                log.info("not syncing iptables until Services and EndpointSlices are listed")
                return
            start = self.clock()
            full = self.need_full_sync or self.last_full_sync is None or \
                start - self.last_full_sync > FULL_SYNC_PERIOD
            changed = self.svc_port_map.update(self.service_changes)
            ep_result = self.endpoints_map.update(self.endpoints_changes)
            changed |= ep_result.updated_services
            success = False
            try:
                success = (not full or self.ensure_jump_chains()) and \
                    self.write_rules(full, changed)
            finally:
                self.finish_sync(start, full, success, ep_result)

    def ensure_jump_chains(self):
        try:
            for table, chain, builtin, comment, extra in JUMP_CHAINS + KUBELET_JUMP_CHAINS:
                self.iptables.ensure_chain(table, chain)
                self.iptables.ensure_rule(True, table, builtin,
                                          *rules.jump_rule_args(comment, extra, chain))
        except CommandError as e:
            log.error("failed to ensure the jump rules: %s", e)
            return False
        return True

    def write_rules(self, full, changed):
        data = self.render(full, changed)
        self.last_restore_data = data
        try:
            self.iptables.restore_all(data)
        except (RestoreError, CommandError) as e:
            lines = extract_lines(data, e.line) if getattr(e, "line", None) else ""
            log.error("failed to execute iptables-restore: %s\n%s", e, lines)
            if self.metrics is not None:
                self.metrics.iptables_restore_failures_total.inc()
            return False
        return True

    def render(self, full, changed):
        """The iptables-restore input: filter and nat, top-level chains always, each
        service's own chains if `full` or its (ns, name) is in `changed`."""
        filter_chains, filter_rules, nat_chains, nat_rules = (LineBuffer() for _ in range(4))
        skipped_chains, skipped_rules = DiscardLineBuffer(), DiscardLineBuffer()
        for chain in (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD, KUBE_NODEPORTS,
                      KUBE_PROXY_FIREWALL):
            filter_chains.write(make_chain_line(chain))
        for chain in (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ):
            nat_chains.write(make_chain_line(chain))
        self.write_top_level_rules(filter_chains, filter_rules, nat_rules)
        total = sum(len(self.endpoints_map.get(spn, ())) for spn in self.svc_port_map)
        self.large_cluster_mode = total > LARGE_CLUSTER_ENDPOINTS_THRESHOLD
        active, no_local = set(), [0, 0]
        for spn in sorted(self.svc_port_map):
            own = full or spn.service in changed
            chains, own_rules = (nat_chains, nat_rules) if own else (skipped_chains, skipped_rules)
            got, nl = rules.write_service_rules(self, self.svc_port_map[spn],
                                                self.endpoints_map.get(spn, []), filter_rules,
                                                nat_rules, chains, own_rules)
            active.update(got)
            no_local = [a + b for a, b in zip(no_local, nl)]
        deleted = self.delete_stale_chains(active, nat_chains, nat_rules)
        self.write_nodeports_jump(nat_rules)
        self.write_forward_rules(filter_rules)
        self.no_local_endpoints = no_local
        if self.metrics is not None:
            m = self.metrics
            m.iptables_rules_total.labels("filter").set(len(filter_rules))
            m.iptables_rules_last_sync.labels("filter").set(len(filter_rules))
            m.iptables_rules_total.labels("nat").set(len(nat_rules) + len(skipped_rules) - deleted)
            m.iptables_rules_last_sync.labels("nat").set(len(nat_rules) - deleted)
        log.info("reloading service iptables data: %d services, %d endpoints, %d filter rules, "
                 "%d nat chains, %d nat rules (%s sync)", len(self.svc_port_map), total,
                 len(filter_rules), len(nat_chains), len(nat_rules), "full" if full else "partial")
        return ("*filter\n" + filter_chains.text() + filter_rules.text() + "COMMIT\n"
                "*nat\n" + nat_chains.text() + nat_rules.text() + "COMMIT\n")

    def write_top_level_rules(self, filter_chains, filter_rules, nat_rules):
        mark = self.masquerade_mark
        nat_rules.write("-A", KUBE_POSTROUTING, "-m", "mark", "!", "--mark", f"{mark}/{mark}",
                        "-j", "RETURN")
        nat_rules.write("-A", KUBE_POSTROUTING, "-j", "MARK", "--xor-mark", mark)
        nat_rules.write("-A", KUBE_POSTROUTING, "-m", "comment", "--comment",
                        '"kubernetes service traffic requiring SNAT"', "-j", "MASQUERADE",
                        ["--random-fully"] if self.iptables.has_random_fully() else [])
        nat_rules.write("-A", KUBE_MARK_MASQ, "-j", "MARK", "--or-mark", mark)
        if self.localhost_nodeports:   # route_localnet's hole (issue 90259), plugged
            filter_chains.write(make_chain_line(KUBELET_FIREWALL))
            filter_rules.write("-A", KUBELET_FIREWALL, "-m", "comment", "--comment",
                               '"block incoming localnet connections"', "-d", "127.0.0.0/8",
                               "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate",
                               "RELATED,ESTABLISHED,DNAT", "-j", "DROP")

    def delete_stale_chains(self, active, nat_chains, nat_rules):
        """Our service chains that exist but are no longer rendered: flush and ``-X``."""
        now = self.clock()
        if self.large_cluster_mode and self.last_iptables_cleanup is not None and \
                now - self.last_iptables_cleanup <= self.sync_period:
            return 0
        try:
            existing = get_chains_from_table(self.iptables.save("nat"))
        except CommandError as e:
            log.error("failed to execute iptables-save: stale chains will not be deleted: %s", e)
            return 0
        deleted = 0
        for chain in sorted(existing - active):
            if rules.is_service_chain_name(chain):
                nat_chains.write(make_chain_line(chain))
                nat_rules.write("-X", chain)
                deleted += 1
        self.last_iptables_cleanup = now
        return deleted

    def write_nodeports_jump(self, nat_rules):
        """Last in KUBE-SERVICES: anything for a local address may be a NodePort."""
        comment = ["-m", "comment", "--comment",
                   '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"']
        if self.node_port_addresses.match_all():
            dest = ["-m", "addrtype", "--dst-type", "LOCAL"]
            if not self.localhost_nodeports:
                dest += ["!", "-d", "127.0.0.0/8"]
            nat_rules.write("-A", KUBE_SERVICES, comment, dest, "-j", KUBE_NODEPORTS)
            return
        for ip in self.node_port_addresses.get_node_ips(self.local_addresses()):
            if ip.startswith("127.") and not self.localhost_nodeports:
                log.error("--nodeport-addresses includes localhost but "
                          "--iptables-localhost-nodeports=false was passed")
                continue
            nat_rules.write("-A", KUBE_SERVICES, comment, "-d", ip, "-j", KUBE_NODEPORTS)

    def write_forward_rules(self, filter_rules):
        mark = self.masquerade_mark
        if not self.conntrack_tcp_liberal:
            filter_rules.write("-A", KUBE_FORWARD, "-m", "conntrack", "--ctstate", "INVALID",
                               "-j", "DROP")
        filter_rules.write("-A", KUBE_FORWARD, "-m", "comment", "--comment",
                           '"kubernetes forwarding rules"', "-m", "mark", "--mark",
                           f"{mark}/{mark}", "-j", "ACCEPT")
        filter_rules.write("-A", KUBE_FORWARD, "-m", "comment", "--comment",
                           '"kubernetes forwarding conntrack rule"', "-m", "conntrack",
                           "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")

    def finish_sync(self, start, full, success, ep_result):
        elapsed = self.clock() - start
        m = self.metrics
        if m is not None:
            m.sync_proxy_rules_latency.observe(elapsed)
            (m.sync_full_proxy_rules_latency if full
             else m.sync_partial_proxy_rules_latency).observe(elapsed)
        if not success:
            log.info("sync failed; retrying in %gs", self.sync_period)
            if m is not None and not full:
                m.iptables_partial_restore_failures_total.inc()
            self.need_full_sync = True   # the changes are checked out: only a full sync is safe
            self.runner.retry_after(self.sync_period)
            return
        self.need_full_sync = False
        if full:
            self.last_full_sync = self.clock()
        log.info("SyncProxyRules complete in %.3fs (%s)", elapsed, "full" if full else "partial")
        self.after_sync(ep_result)

    def after_sync(self, ep_result):
        now = datetime.now(timezone.utc)
        m = self.metrics
        if m is not None:
            for times in ep_result.last_change_trigger_times.values():
                for t in times:
                    m.network_programming_latency.observe((now - t).total_seconds())
            m.no_local_endpoints_total.labels("internal").set(self.no_local_endpoints[0])
            m.no_local_endpoints_total.labels("external").set(self.no_local_endpoints[1])
            m.sync_proxy_rules_last_timestamp.set_to_current_time()
        if self.healthz is not None:
            self.healthz.updated()
        if self.service_health is not None:
            self.service_health.sync_services(self.svc_port_map.health_check_node_ports())
            self.service_health.sync_endpoints(self.endpoints_map.local_ready_endpoints())
        if ep_result.conntrack_cleanup_required and self.conntrack is not None:
            try:
                conntrack_module.clean_stale_entries(self.conntrack, self.svc_port_map,
                                                     self.endpoints_map)
            except (OSError, CommandError) as e:   # e.g. no conntrack tool: rules still apply
                log.error("failed to clean stale UDP conntrack entries: %s", e)


def cleanup_leftovers(ipt):
    """Remove every rule and chain a proxier wrote (``kube-proxy --cleanup``). True on error."""
    error = False
    for table, chain, builtin, comment, extra in JUMP_CHAINS:
        try:
            ipt.delete_rule(table, builtin, *rules.jump_rule_args(comment, extra, chain))
        except CommandError as e:
            log.error("error removing jump rule: %s", e)
            error = True
    for table, ours in (("nat", (KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ,
                                 rules.KUBE_PROXY_CANARY)),
                        ("filter", (KUBE_SERVICES, KUBE_EXTERNAL_SERVICES, KUBE_FORWARD,
                                    KUBE_NODEPORTS, KUBE_PROXY_FIREWALL, rules.KUBE_PROXY_CANARY))):
        try:
            existing = get_chains_from_table(ipt.save(table))
            doomed = [c for c in ours if c in existing]
            if table == "nat":
                doomed += sorted(c for c in existing if rules.is_service_chain_name(c))
            if doomed:
                data = "".join(make_chain_line(c) + "\n" for c in doomed)
                data += "".join(f"-X {c}\n" for c in doomed)
                ipt.restore_all(f"*{table}\n{data}COMMIT\n")
        except (CommandError, RestoreError) as e:
            log.error("error removing the %s chains: %s", table, e)
            error = True
    ipt.delete_chain("mangle", rules.KUBE_PROXY_CANARY)
    return error
