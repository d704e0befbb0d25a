"""The kfs API server: REST over etcd (``kfs apiserver``, upstream's kube-apiserver).

A request's path through the package, in reading order:

- ``main`` (the command line) starts ``server``: HTTPS, then for every request
  ``authn`` (who?) -> ``requestinfo`` (what?) -> ``rbac`` (allowed?) -> a handler;
- ``discovery`` and ``openapi`` answer what the server serves; ``handlers`` route resource
  requests by path and method, ``negotiation`` reads bodies and picks JSON, YAML or a Table
  (``tables``); ``protobuf`` decodes what kubectl's typed clients send;
- ``admission`` runs ``schema`` (decoding), ``defaults``, ``strategy`` and ``validation``;
- ``registry`` is create/get/list/update/patch (``patch``)/delete over ``kfs.storage`` (etcd),
  with ``deletion`` (grace periods, finalizers), ``services`` (ClusterIPs, NodePorts) and
  ``watch`` (streams of changes);
- ``errors`` makes every failure a Status; ``policy`` is the RBAC bootstrap;
- ``local`` runs etcd and the server on loopback for tests and benchmarks; in the lab,
  ``kfs.lab.stages.apiserver`` brings it up (PKI, etcd, the server) as ``kfs apiserver``.
"""
