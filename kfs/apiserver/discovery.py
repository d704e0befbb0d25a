"""Discovery: how clients learn which resources this API server has, before using them.

``kubectl get deploy`` does not know what "deploy" is: it reads ``/api`` (the core group's
versions), ``/apis`` (the other groups) and one ``APIResourceList`` per group version
(``/api/v1``, ``/apis/apps/v1``), finds the short name ``deploy`` of ``deployments`` in
group ``apps``, and only then sends ``GET /apis/apps/v1/namespaces/default/deployments``.
``kubectl api-resources`` prints these lists. ``/version`` comes first of all: the
kubectl on the course's machines picks its own version by the server's.

This is the *legacy* discovery format (``application/json``); client-go also asks for
aggregated discovery (``apidiscovery.k8s.io/v2``) and falls back to this one when the
response's Content-Type says it got plain JSON.

Mirrors ``staging/src/k8s.io/apiserver/pkg/endpoints/discovery`` (root, group, version
handlers) and ``pkg/version``.

What real Kubernetes does differently: aggregated discovery (one request for everything),
many more groups and versions (with a preferred version each), resources contributed by
aggregated API servers and CRDs, ``storageVersionHash`` for migration.
"""
import platform

from kfs import resources, versions

SUBRESOURCE_VERBS = {"status": ["get", "patch", "update"], "scale": ["get", "patch", "update"],
                     "binding": ["create"], "eviction": ["create"], "log": ["get"],
                     "exec": ["create", "get"], "attach": ["create", "get"],
                     "portforward": ["create", "get"]}


def version():
    return {"major": versions.KUBERNETES_MAJOR, "minor": versions.KUBERNETES_MINOR,
            "gitVersion": versions.KUBERNETES_GIT_VERSION, "gitCommit": "kfs",
            "gitTreeState": "clean", "buildDate": "2024-12-11T00:00:00Z",
            "goVersion": f"python{platform.python_version()}", "compiler": "kfs",
            "platform": "linux/amd64"}


def api_versions(server_address):
    """``GET /api``: the core group's versions."""
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                            "serverAddress": server_address}]}


def _group(name):
    by_version = sorted({r.version for r in resources.groups()[name]})
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in by_version]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def api_group_list():
    """``GET /apis``: every named group with its versions."""
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(g) for g in resources.groups() if g]}


def api_group(name):
    """``GET /apis/<group>``, or None if there is no such group."""
    if not name or name not in resources.groups():
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _entry(r):
    out = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
           "kind": r.kind, "verbs": list(r.verbs)}
    if r.short_names:
        out["shortNames"] = list(r.short_names)
    if r.categories:
        out["categories"] = list(r.categories)
    return out


def _subresource_entry(r, sub, target):
    kind, group, version = target
    out = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
           "kind": kind or r.kind, "verbs": SUBRESOURCE_VERBS.get(sub, ["get"])}
    if (group or version) and (group, version) != (r.group, r.version):
        out["group"], out["version"] = group, version
    return out


def api_resource_list(group, version):
    """``GET /api/v1``, ``/apis/apps/v1``: the resources (and subresources) of a version."""
    rs = [r for r in resources.RESOURCES if (r.group, r.version) == (group, version)]
    if not rs:
        return None
    entries = []
    for r in rs:
        entries.append(_entry(r))
        entries += [_subresource_entry(r, s, t) for s, t in r.subresources.items()]
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version,
            "resources": entries}
