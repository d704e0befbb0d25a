"""flannel: a subnet per node out of one pod network, leased in etcd (``kfs flanneld``).

Mirrors flannel-io/flannel with its etcd subnet manager, one module per upstream file or
package:

- ``main``: ``main.go``: flags, the external interface, the backend, the subnet file, the
  lease kept alive;
- ``config``: ``pkg/subnet/config.go``: the network config in ``<prefix>/config``;
- ``subnet``: ``pkg/subnet/subnet.go``: subnet keys (``10.244.1.0-24``) and ``subnet.env``;
- ``lease``: ``pkg/lease/lease.go``: a lease, its attributes as stored, the LeaseWatcher;
- ``registry``: ``pkg/subnet/etcd/registry.go``: the thin adapter over etcd v3 (leases,
  transactions, a watch of ``<prefix>/subnets/``);
- ``local_manager``: ``pkg/subnet/etcd/local_manager.go``: acquiring, renewing and watching
  leases;
- ``ip``: ``pkg/ip``: the external interface, one address on a link;
- ``netlink``: the thin adapter over the kernel (links, addresses, neighbours, FDB,
  routes) through pyroute2, as upstream uses vishvananda/netlink;
- ``vxlan``: ``pkg/backend/vxlan/vxlan.go`` and ``device.go``: the ``flannel.1`` device;
- ``vxlan_network``: ``pkg/backend/vxlan/vxlan_network.go``: neighbour, FDB entry and
  route per remote node;
- ``hostgw``: ``pkg/backend/hostgw`` and ``pkg/backend/route_network.go``: a plain route
  per remote node;
- ``iptables``: ``pkg/trafficmngr/iptables``: ``FLANNEL-POSTRTG`` and ``FLANNEL-FWD``.

What real Kubernetes does differently: see each module's last paragraph; the big ones are
that a cluster's network is a CNI plugin (flannel's own ``flannel`` CNI plugin reads
``subnet.env``), that flannel usually runs with the kube subnet manager (the node's
``spec.podCIDR``, no etcd of its own), and its other backends (wireguard, ipip, udp).
"""
