"""kube-proxy: Services, NodePorts and load balancing, in iptables (``kfs proxy``).

Mirrors ``pkg/proxy`` of Kubernetes in iptables mode, one module per upstream file:

- ``main``: ``cmd/kube-proxy/app/server.go``: flags, informers, the servers, the loop;
- ``proxier``: ``pkg/proxy/iptables/proxier.go``: ``sync_proxy_rules``, one restore per sync;
- ``rules``: the per-service half of ``proxier.go``: KUBE-SVC/SVL/EXT/FW/SEP, chain names;
- ``servicechangetracker``: ``pkg/proxy/servicechangetracker.go``, ``serviceport.go``;
- ``endpointschangetracker``: ``endpointschangetracker.go``, ``endpointslicecache.go``,
  ``topology.go``: EndpointSlices to endpoints per service port;
- (the iptables adapter, restore, save, ``-C``/``-N``, the canary monitor, is ``kfs.iptables``,
  shared with flanneld, as upstream's ``pkg/util/iptables``);
- ``conntrack``: ``pkg/proxy/conntrack``: stale UDP flows;
- ``healthcheck``: ``pkg/proxy/healthcheck``: /healthz, the healthCheckNodePort servers;
- ``metrics``: ``pkg/proxy/metrics``: ``kubeproxy_*`` in Prometheus format;
- ``runner``: ``pkg/util/async``: the BoundedFrequencyRunner;
- ``util``: ``pkg/proxy/util``: line buffers, sysctls, node addresses, "is it local?".

What real Kubernetes does differently: see each module's last paragraph; the big ones are
the nftables and IPVS modes, dual-stack, and topology-aware routing.
"""
