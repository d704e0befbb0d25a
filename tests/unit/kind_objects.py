"""Objects and helpers the per-kind tests (tests/unit/kinds/) and the generic admission
tests share: minimal manifests, and each admission step run on one object."""
import copy
from datetime import datetime, timedelta, timezone

from kfs import resources
from kfs.apiserver import kinds, strategy, tables
from kfs.apiserver.kinds import default, validate

NOW = "2024-01-01T00:00:00Z"                                   # what create stamps
TABLE_NOW = datetime(2024, 1, 2, 0, 0, 0, tzinfo=timezone.utc)  # what AGE is measured against
SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                 "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
             "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
             "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MSG = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
               "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
               "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


# -- manifests ----------------------------------------------------------------------------

def pod(**spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}], **spec}}


def pod_with(*resources):
    """A pod of one container per `resources` (requests/limits)."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": f"c{i}", "image": "x", "resources": r}
                                    for i, r in enumerate(resources or [{}])]}}


def deployment(**spec):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}, **spec}}


def workload(kind="Deployment"):
    """A Deployment (or ReplicaSet) of 2 replicas."""
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


def service(**spec):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec}}


def rbac(kind, **body):
    md = {"name": "x"} if kind.startswith("Cluster") else {"name": "x", "namespace": "default"}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": md, **body}


def endpointslice(**body):
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "web-abcde", "namespace": "default"},
            **{"addressType": "IPv4", **body}}


# -- admission, one step at a time ----------------------------------------------------------

def defaulted(obj):
    default(obj)
    return obj


def created(obj):
    """Defaulted and prepared for create, as the API server stores it (resourceVersion 7)."""
    default(obj)
    strategy.before_create(kinds.for_object(obj), obj, now=NOW)
    obj["metadata"]["resourceVersion"] = "7"
    return obj


def updated(old, change, subresource=None):
    """`old` after `change(new)` and the update's strategy (through `subresource`)."""
    new = copy.deepcopy(old)
    change(new)
    strategy.before_update(kinds.for_object(new), new, old, subresource)
    return new


def errors(obj, old=None, subresource=None):
    """(field, reason, message) of each validation cause, after defaulting."""
    default(obj)
    return [(c["field"], c["reason"], c["message"]) for c in validate(obj, old, subresource)]


def stored(obj):
    default(obj)
    obj["metadata"].update(uid="u-1", resourceVersion="5", creationTimestamp="2024-01-01T00:00:00Z")
    return obj


def changed(obj, fn):
    new = copy.deepcopy(obj)
    fn(new)
    return new


# -- printing --------------------------------------------------------------------------------

def table(plural, objects, **kwargs):
    try:
        kind = kinds.for_resource(resources.lookup(plural))
    except resources.UnknownResource:  # a kind kfs has no rules for
        kind = kinds.lookup("example.com/v1", plural.capitalize())
    return tables.table(kind, objects, **kwargs)


def ago(**delta):
    return (TABLE_NOW - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cells(resource, obj):
    return table(resource, [obj], now=TABLE_NOW)["rows"][0]["cells"]


def named(name, **body):
    return {"metadata": {"name": name, "namespace": "default", "creationTimestamp": ago(minutes=5)}, **body}


def column_names(plural):
    """(the columns `kubectl get` prints, the ones it adds with -o wide)."""
    defs = table(plural, [], now=TABLE_NOW)["columnDefinitions"]
    return ([c["name"] for c in defs if c["priority"] == 0],
            [c["name"] for c in defs if c["priority"] == 1])
