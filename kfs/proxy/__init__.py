"""kube-proxy: Services, NodePorts and load balancing, in iptables (``kfs proxy``).

Mirrors ``pkg/proxy`` of Kubernetes in iptables mode, one module per upstream file:

| module                     | upstream                                   | what                                  |
|----------------------------|--------------------------------------------|---------------------------------------|
| ``main``                   | ``cmd/kube-proxy/app/server.go``           | flags, informers, servers, the loop   |
| ``proxier``                | ``pkg/proxy/iptables/proxier.go``          | ``sync_proxy_rules``: one restore     |
| ``rules``                  | ``proxier.go`` (per service), chain names  | KUBE-SVC/SVL/EXT/FW/SEP chains        |
| ``servicechangetracker``   | ``pkg/proxy/servicechangetracker.go``      | Services -> ServicePorts, changes     |
| ``endpointschangetracker`` | ``endpointschangetracker.go``, ``endpointslicecache.go``, ``topology.go`` | EndpointSlices -> endpoints |
| ``iptables``               | ``pkg/util/iptables``                      | restore/save/-C/-N, the canary monitor |
| ``conntrack``              | ``pkg/proxy/conntrack``                    | stale UDP flows                       |
| ``healthcheck``            | ``pkg/proxy/healthcheck``                  | /healthz, healthCheckNodePort servers |
| ``metrics``                | ``pkg/proxy/metrics``                      | ``kubeproxy_*`` in Prometheus format  |
| ``runner``                 | ``pkg/util/async``                         | BoundedFrequencyRunner                |
| ``util``                   | ``pkg/proxy/util``                         | line buffers, sysctl, node addresses  |

What real Kubernetes does differently: see each module's last paragraph; the big ones are
the nftables and IPVS modes, dual-stack, and topology-aware routing.
"""
