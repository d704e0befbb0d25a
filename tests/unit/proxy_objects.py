"""Services, EndpointSlices and a proxier on fakes, for the proxy's unit tests."""
import difflib
import os
from pathlib import Path

import pytest

from kfs.proxy.metrics import ProxyMetrics
from kfs.proxy.proxier import Proxier
from tests.unit.proxy_fakes import FakeConntrack, FakeIptables, FakeSysctl

GOLDEN = Path(__file__).parent / "golden" / "proxy"
UPDATE_ENV = "KFS_UPDATE_GOLDEN"


def service(name, ports, namespace="default", cluster_ip="10.96.0.10", type="ClusterIP",
            ingress=(), **spec):
    """A Service as the API server stores it (defaults applied). `ports`: (name, port,
    targetPort, protocol[, nodePort]) tuples."""
    out = []
    for p in ports:
        pname, port, target, protocol, *node_port = p
        entry = {"name": pname, "port": port, "targetPort": target, "protocol": protocol}
        if pname == "":
            entry.pop("name")
        if node_port:
            entry["nodePort"] = node_port[0]
        out.append(entry)
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"namespace": namespace, "name": name, "resourceVersion": "1"},
           "spec": {"type": type, "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                    "ports": out, "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                    **spec},
           "status": {"loadBalancer": {"ingress": [{"ip": ip} for ip in ingress]}}}
    if type in ("NodePort", "LoadBalancer"):
        svc["spec"].setdefault("externalTrafficPolicy", "Cluster")
    return svc


def endpoint(ip, node="node1", ready=True, serving=None, terminating=False):
    return {"addresses": [ip], "nodeName": node,
            "conditions": {"ready": ready, "serving": ready if serving is None else serving,
                           "terminating": terminating}}


def endpoint_slice(service_name, endpoints, ports, namespace="default", name=None,
                   annotations=None):
    """`endpoints`: endpoint() dicts or bare IPs (ready, on node1); `ports`: (name, port,
    protocol) tuples."""
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"namespace": namespace, "name": name or f"{service_name}-abcde",
                         "labels": {"kubernetes.io/service-name": service_name},
                         "annotations": dict(annotations or {})},
            "addressType": "IPv4",
            "endpoints": [e if isinstance(e, dict) else endpoint(e) for e in endpoints],
            "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}


def make_proxier(services=(), slices=(), synced=True, **kwargs):
    """A Proxier for node1 on a FakeIptables, fed `services` and `slices`, synced once."""
    ipt = kwargs.pop("iptables", None) or FakeIptables()
    kwargs.setdefault("metrics", ProxyMetrics())
    kwargs.setdefault("conntrack", FakeConntrack())
    p = Proxier(ipt, "node1", kwargs.pop("sysctl", FakeSysctl()), **kwargs)
    for svc in services:
        p.on_service_add(svc)
    for eps in slices:
        p.on_endpoint_slice_update(eps)
    if synced:
        p.on_service_synced()
        p.on_endpoint_slices_synced()
    return p, ipt


def assert_golden(name, text):
    """`text` must equal tests/unit/golden/proxy/<name>.txt; a mismatch fails with a diff.
    ``KFS_UPDATE_GOLDEN=1`` rewrites the file, and still fails, so a rewrite is never silent."""
    path = GOLDEN / f"{name}.txt"
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        pytest.fail(f"rewrote {path}; review it (git diff) and run again without {UPDATE_ENV}")
    if not path.exists():
        pytest.fail(f"no golden file {path}: run with {UPDATE_ENV}=1 to write it, then review")
    expected = path.read_text()
    if text != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            f"golden/{name}.txt", "rendered"))
        pytest.fail(f"rendered rules differ from {path}:\n{diff}")


def chains_in(restore, prefix="KUBE-"):
    """The chain lines (``:NAME``) of a restore input, by name."""
    return [line[1:].split()[0] for line in restore.splitlines()
            if line.startswith(":" + prefix)]
