"""The cloud provider and the cloud-controller-manager: Kubernetes asking its IaaS.

``kfs.cloud.cloud`` is the interface (``k8s.io/cloud-provider/cloud.go``) and the registry
of providers by name (``plugins.go``); ``kfs.cloud.netns`` and ``kfs.cloud.vagrant`` are the
two labs behind it; ``kfs.cloud.controllers`` are the cloud-controller-manager's loops
(``k8s.io/cloud-provider/controllers/{node,nodelifecycle,service}``) and ``kfs.cloud.main``
the ``kfs cloud-controller-manager`` command; ``kfs.cloud.loadbalancer`` is ``kfs
load-balancer``, the netns lab's load balancer machine (what the cloud runs, not Kubernetes).
"""
