"""The rules of one service port: KUBE-SERVICES entries, then its own SVC/SVL/EXT/FW/SEP chains.

Mirrors the per-service half of ``pkg/proxy/iptables/proxier.go`` (the loop body of
``syncProxyRules``, ``writeServiceToEndpointRules`` and the chain-name functions), shrunk.

Chain names are hashed so they fit iptables' 28 characters and stay stable::

    KUBE-SVC- + base32(sha256("default/kubernetes:https" + "tcp"))[:16]  =  KUBE-SVC-NPX46M4PTMTKRN6Y

(``SVL``, ``EXT``, ``FW`` hash the same string; ``SEP`` appends the endpoint ``ip:port``.)
A packet for a ClusterIP walks::

    KUBE-SERVICES  -d <clusterIP> --dport <port>            -> KUBE-SVC-<hash>
    KUBE-SVC-<hash> -m statistic --probability 1/n ...      -> KUBE-SEP-<hash of endpoint 1>
                    -m statistic --probability 1/(n-1) ...  -> KUBE-SEP-<hash of endpoint 2>
                    (the last one unconditionally)           -> KUBE-SEP-<hash of endpoint n>
    KUBE-SEP-<hash> -s <endpoint> -j KUBE-MARK-MASQ          (a pod reaching itself: SNAT)
                    -j DNAT --to-destination <endpoint ip:port>

so each endpoint is picked with probability 1/n. NodePorts, externalIPs and LoadBalancer
IPs go through ``KUBE-EXT-<hash>`` first, which masquerades (Cluster policy) or keeps the
client address and picks only this node's endpoints (``KUBE-SVL-``, Local policy).

What real Kubernetes does differently: nothing in the layout; it also counts localhost
NodePort hits with nfacct.
"""
import base64
import hashlib

from kfs.proxy.topology import categorize_endpoints

KUBE_SERVICES = "KUBE-SERVICES"
KUBE_EXTERNAL_SERVICES = "KUBE-EXTERNAL-SERVICES"
KUBE_NODEPORTS = "KUBE-NODEPORTS"
KUBE_POSTROUTING = "KUBE-POSTROUTING"
KUBE_MARK_MASQ = "KUBE-MARK-MASQ"
KUBE_FORWARD = "KUBE-FORWARD"
KUBE_PROXY_FIREWALL = "KUBE-PROXY-FIREWALL"
KUBE_PROXY_CANARY = "KUBE-PROXY-CANARY"
KUBELET_FIREWALL = "KUBE-FIREWALL"

SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")

# (table, our chain, built-in chain it hangs off, comment, extra match): iptablesJumpChains
JUMP_CHAINS = [
    ("filter", KUBE_EXTERNAL_SERVICES, "INPUT", "kubernetes externally-visible service portals",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("filter", KUBE_EXTERNAL_SERVICES, "FORWARD", "kubernetes externally-visible service portals",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("filter", KUBE_NODEPORTS, "INPUT", "kubernetes health check service ports", []),
    ("filter", KUBE_SERVICES, "FORWARD", "kubernetes service portals",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("filter", KUBE_SERVICES, "OUTPUT", "kubernetes service portals",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("filter", KUBE_FORWARD, "FORWARD", "kubernetes forwarding rules", []),
    ("filter", KUBE_PROXY_FIREWALL, "INPUT", "kubernetes load balancer firewall",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("filter", KUBE_PROXY_FIREWALL, "OUTPUT", "kubernetes load balancer firewall",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("filter", KUBE_PROXY_FIREWALL, "FORWARD", "kubernetes load balancer firewall",
     ["-m", "conntrack", "--ctstate", "NEW"]),
    ("nat", KUBE_SERVICES, "OUTPUT", "kubernetes service portals", []),
    ("nat", KUBE_SERVICES, "PREROUTING", "kubernetes service portals", []),
    ("nat", KUBE_POSTROUTING, "POSTROUTING", "kubernetes postrouting rules", []),
]
# the kubelet's own copy of the anti-martian chain (kubelet_network_linux.go): made, never removed
KUBELET_JUMP_CHAINS = [("filter", KUBELET_FIREWALL, "INPUT", "", []),
                       ("filter", KUBELET_FIREWALL, "OUTPUT", "", [])]


def jump_rule_args(comment, extra, chain):
    return [*extra, *(["-m", "comment", "--comment", comment] if comment else []), "-j", chain]


def _hash(text):
    return base64.b32encode(hashlib.sha256(text.encode()).digest()).decode()[:16]


def port_proto_hash(service_port_name, protocol):
    """16 characters of base32(sha256(``ns/name:port`` + protocol in lower case))."""
    return _hash(service_port_name + protocol)


def service_port_policy_cluster_chain(service_port_name, protocol):
    return "KUBE-SVC-" + port_proto_hash(service_port_name, protocol)


def service_port_policy_local_chain_name(service_port_name, protocol):
    return "KUBE-SVL-" + port_proto_hash(service_port_name, protocol)


def service_firewall_chain_name(service_port_name, protocol):
    return "KUBE-FW-" + port_proto_hash(service_port_name, protocol)


def service_external_chain_name(service_port_name, protocol):
    return "KUBE-EXT-" + port_proto_hash(service_port_name, protocol)


def service_port_endpoint_chain_name(service_port_name, protocol, endpoint):
    return "KUBE-SEP-" + _hash(service_port_name + protocol + endpoint)


def is_service_chain_name(chain):
    return chain.startswith(SERVICE_CHAIN_PREFIXES)


def compute_probability(n):
    """1/n printed as upstream does (``%0.10f``): 0.3333333333 for the first of three."""
    return "%0.10f" % (1.0 / n)


def make_chain_line(chain):
    return f":{chain} - [0:0]"


def write_service_rules(p, svc, all_endpoints, filter_rules, top_rules, nat_chains, nat_rules):
    """One service port's rules. `top_rules` gets its KUBE-SERVICES/KUBE-NODEPORTS lines (always
    written); `nat_chains`/`nat_rules` its own chains (a partial sync passes discarding
    buffers when the service did not change). Returns (active nat chains, no-local counts)."""
    name, proto, port = svc.name_string, svc.protocol.lower(), str(svc.port)
    cluster, local, reachable, has_endpoints = categorize_endpoints(all_endpoints, svc)
    uses_cluster_chain = bool(cluster) and svc.uses_cluster_endpoints()
    uses_local_chain = bool(local) and svc.uses_local_endpoints()
    internal_chain, has_internal = svc.cluster_policy_chain, has_endpoints
    if svc.internal_policy_local:
        internal_chain, has_internal = svc.local_policy_chain, has_endpoints and bool(local)
    external_policy_chain, has_external = svc.cluster_policy_chain, has_endpoints
    if svc.external_policy_local:
        external_policy_chain, has_external = svc.local_policy_chain, has_endpoints and bool(local)
    external_chain = svc.external_chain
    uses_external_chain = has_endpoints and svc.externally_accessible()
    uses_fw_chain = has_endpoints and bool(svc.load_balancer_vips) and \
        bool(svc.load_balancer_source_ranges)
    lb_chain = svc.firewall_chain if uses_fw_chain else external_chain
    no_local = [0, 0]
    if not has_endpoints:
        internal_target = external_target = "REJECT"
        internal_comment = external_comment = f'"{name} has no endpoints"'
    else:
        internal_target = external_target = None
        internal_comment = external_comment = f'"{name} has no local endpoints"'
        if not has_internal:
            internal_target, no_local[0] = "DROP", 1
        if not has_external:
            external_target, no_local[1] = "DROP", 1
    match = ["-m", proto, "-p", proto]

    # the service's entries in the top-level chains
    if has_internal:
        top_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment", f'"{name} cluster IP"',
                        match, "-d", svc.cluster_ip, "--dport", port, "-j", internal_chain)
    else:
        filter_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment", internal_comment,
                           match, "-d", svc.cluster_ip, "--dport", port, "-j", internal_target)
    for ip in svc.external_ips:
        if has_endpoints:
            top_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment",
                            f'"{name} external IP"', match, "-d", ip, "--dport", port,
                            "-j", external_chain)
        if not has_external:
            filter_rules.write("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment",
                               external_comment, match, "-d", ip, "--dport", port,
                               "-j", external_target)
    for ip in svc.load_balancer_vips:
        if has_endpoints:
            top_rules.write("-A", KUBE_SERVICES, "-m", "comment", "--comment",
                            f'"{name} loadbalancer IP"', match, "-d", ip, "--dport", port,
                            "-j", lb_chain)
        if uses_fw_chain:
            filter_rules.write("-A", KUBE_PROXY_FIREWALL, "-m", "comment", "--comment",
                               f'"{name} traffic not accepted by {svc.firewall_chain}"', match,
                               "-d", ip, "--dport", port, "-j", "DROP")
    if not has_external:
        for ip in svc.load_balancer_vips:
            filter_rules.write("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment",
                               external_comment, match, "-d", ip, "--dport", port,
                               "-j", external_target)
    if svc.node_port:
        if has_endpoints:
            top_rules.write("-A", KUBE_NODEPORTS, "-m", "comment", "--comment", name, match,
                            "--dport", svc.node_port, "-j", external_chain)
        if not has_external:
            filter_rules.write("-A", KUBE_EXTERNAL_SERVICES, "-m", "comment", "--comment",
                               external_comment, "-m", "addrtype", "--dst-type", "LOCAL", match,
                               "--dport", svc.node_port, "-j", external_target)
    if svc.health_check_node_port:
        filter_rules.write("-A", KUBE_NODEPORTS, "-m", "comment", "--comment",
                           f'"{name} health check node port"', "-m", "tcp", "-p", "tcp",
                           "--dport", svc.health_check_node_port, "-j", "ACCEPT")

    # the service's own chains
    active = []
    if has_internal:
        args = ["-m", "comment", "--comment", f'"{name} cluster IP"', match,
                "-d", svc.cluster_ip, "--dport", port]
        if p.masquerade_all:
            nat_rules.write("-A", internal_chain, args, "-j", KUBE_MARK_MASQ)
        elif p.local_detector.is_implemented():
            nat_rules.write("-A", internal_chain, args, p.local_detector.if_not_local(),
                            "-j", KUBE_MARK_MASQ)
    if uses_external_chain:
        nat_chains.write(make_chain_line(external_chain))
        active.append(external_chain)
        write_external_chain(p, svc, nat_rules, has_external, external_policy_chain)
    if uses_fw_chain:
        nat_chains.write(make_chain_line(svc.firewall_chain))
        active.append(svc.firewall_chain)
        write_firewall_chain(p, svc, nat_rules, external_chain)
    if uses_cluster_chain:
        nat_chains.write(make_chain_line(svc.cluster_policy_chain))
        active.append(svc.cluster_policy_chain)
        write_service_to_endpoint_rules(p, nat_rules, svc, svc.cluster_policy_chain, cluster)
    if uses_local_chain:
        nat_chains.write(make_chain_line(svc.local_policy_chain))
        active.append(svc.local_policy_chain)
        write_service_to_endpoint_rules(p, nat_rules, svc, svc.local_policy_chain, local)
    for ep in reachable:
        nat_chains.write(make_chain_line(ep.chain_name))
        active.append(ep.chain_name)
        args = ["-A", ep.chain_name, p.service_comment(name)]
        nat_rules.write(args, "-s", ep.ip, "-j", KUBE_MARK_MASQ)   # hairpin: SNAT to self
        if svc.session_affinity_client_ip:
            args += ["-m", "recent", "--name", ep.chain_name, "--set"]
        nat_rules.write(args, match, "-j", "DNAT", "--to-destination", str(ep))
    return active, no_local


def write_external_chain(p, svc, nat_rules, has_external, external_policy_chain):
    """KUBE-EXT-: masquerade (Cluster policy), or keep the source and short-circuit
    traffic that starts on this node or in its pods (Local policy)."""
    chain, name = svc.external_chain, svc.name_string
    if not svc.external_policy_local:
        nat_rules.write("-A", chain, "-m", "comment", "--comment",
                        f'"masquerade traffic for {name} external destinations"',
                        "-j", KUBE_MARK_MASQ)
    else:
        if p.local_detector.is_implemented():
            nat_rules.write("-A", chain, "-m", "comment", "--comment",
                            f'"pod traffic for {name} external destinations"',
                            p.local_detector.if_local(), "-j", svc.cluster_policy_chain)
        nat_rules.write("-A", chain, "-m", "comment", "--comment",
                        f'"masquerade LOCAL traffic for {name} external destinations"',
                        "-m", "addrtype", "--src-type", "LOCAL", "-j", KUBE_MARK_MASQ)
        nat_rules.write("-A", chain, "-m", "comment", "--comment",
                        f'"route LOCAL traffic for {name} external destinations"',
                        "-m", "addrtype", "--src-type", "LOCAL", "-j", svc.cluster_policy_chain)
    if has_external:
        nat_rules.write("-A", chain, "-j", external_policy_chain)


def write_firewall_chain(p, svc, nat_rules, external_chain):
    """KUBE-FW-: only loadBalancerSourceRanges may reach the LoadBalancer IPs."""
    import ipaddress
    args = ["-A", svc.firewall_chain, "-m", "comment", "--comment",
            f'"{svc.name_string} loadbalancer IP"']
    allow_from_node = False
    for cidr in svc.load_balancer_source_ranges:
        nat_rules.write(args, "-s", cidr, "-j", external_chain)
        if p.node_ip and \
                ipaddress.ip_address(p.node_ip) in ipaddress.ip_network(cidr, strict=False):
            allow_from_node = True
    if allow_from_node:
        for ip in svc.load_balancer_vips:
            nat_rules.write(args, "-s", ip, "-j", external_chain)
    nat_rules.write("-A", svc.firewall_chain, "-m", "comment", "--comment",
                    f'"other traffic to {svc.name_string} will be dropped by KUBE-PROXY-FIREWALL"')


def write_service_to_endpoint_rules(p, nat_rules, svc, chain, endpoints):
    """Affinity checks first (``-m recent --rcheck``), then one rule per endpoint picking it
    with probability 1/(n-i); the last endpoint takes whatever is left."""
    name = svc.name_string
    if svc.session_affinity_client_ip:
        for ep in endpoints:
            nat_rules.write("-A", chain, p.service_comment(f'"{name} -> {ep}"'),
                            "-m", "recent", "--name", ep.chain_name, "--rcheck",
                            "--seconds", svc.sticky_max_age_seconds, "--reap",
                            "-j", ep.chain_name)
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        args = ["-A", chain, p.service_comment(f'"{name} -> {ep}"')]
        if i < n - 1:
            args += ["-m", "statistic", "--mode", "random", "--probability", p.probability(n - i)]
        nat_rules.write(args, "-j", ep.chain_name)
