"""The kfs API server: REST over etcd (``kfs apiserver``, upstream's kube-apiserver).

A request's path through the package, in reading order:

- ``main`` (the command line) starts ``server``: HTTPS, then for every request
  ``authn`` (who?) -> ``requestinfo`` (what?) -> ``rbac`` (allowed?) -> a handler;
- ``discovery`` and ``openapi`` answer what the server serves; ``handlers`` route resource
  requests by path and method, ``negotiation`` reads bodies and picks JSON, YAML or a Table
  (``tables``); ``protobuf`` decodes what kubectl's typed clients send;
- ``kinds/``: **one module per kind** (``kinds/pod.py``, ``kinds/service.py`` ...), holding
  all of that kind's rules: defaults, create/update preparation, validation, field
  selectors, table columns and storage hooks; start there to understand a kind;
- ``admission`` runs ``schema`` (decoding), then the kind's defaults, ``strategy`` (the
  system fields every kind shares, then the kind's own) and the kind's validation (with
  the shared rules of ``validation``);
- ``registry`` is create/get/list/update/patch (``patch``)/delete over ``kfs.storage``
  (etcd), calling the kind's storage hooks, with ``deletion`` (grace periods, finalizers),
  ``allocator`` (ClusterIPs, NodePorts, for ``kinds/service.py``) and ``watch`` (streams of
  changes);
- ``errors`` makes every failure a Status; ``policy`` is the RBAC bootstrap;
- ``local`` runs etcd and the server on loopback for tests and benchmarks; in the lab,
  ``kfs.lab.stages.apiserver`` brings it up (PKI, etcd, the server) as ``kfs apiserver``.
"""
