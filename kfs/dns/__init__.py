"""kfs dns: cluster DNS, Services by name from a watch-fed index (CoreDNS's kubernetes plugin).

``index`` (the Services, EndpointSlices and Namespaces the watch keeps), ``kubernetes``
(names to records, the Kubernetes DNS specification), ``forward`` (names outside the
cluster), ``server`` (dnslib's UDP and TCP servers, truncation, metrics), ``metrics``
(Prometheus, /health, /ready) and ``main`` (the ``kfs dns`` command).
"""
