"""Helpers for objects in the Kubernetes wire format: plain dicts, as YAML manifests decode.

Mirrors ``apimachinery/pkg/apis/meta/v1`` (object metadata, owner references, conditions),
``apimachinery/pkg/labels`` and ``pkg/fields`` (selectors) and ``api/resource``
(quantities), shrunk to what kfs uses. Every component shares these, so a label selector
means the same thing to the API server's list, the ReplicaSet controller and the scheduler.

What real Kubernetes does differently: typed Go structs generated from the API types, with
conversion between API versions; quantities kept exact (``inf.Dec``) where we use floats.
"""
import re
import uuid
from datetime import datetime, timezone


# -- metadata ----------------------------------------------------------------------------

def now():
    """RFC 3339 time, seconds precision, UTC: how Kubernetes writes timestamps."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def new_uid():
    return str(uuid.uuid4())


def meta(obj):
    return obj.setdefault("metadata", {})


def name(obj):
    return obj.get("metadata", {}).get("name")


def namespace(obj):
    return obj.get("metadata", {}).get("namespace")


def key(obj):
    """The work-queue key of an object: "namespace/name", or "name" if cluster-scoped."""
    ns = namespace(obj)
    return f"{ns}/{name(obj)}" if ns else name(obj)


def split_key(k):
    """Inverse of `key`: (namespace or None, name)."""
    return tuple(k.split("/", 1)) if "/" in k else (None, k)


def labels(obj):
    return obj.get("metadata", {}).get("labels") or {}


def annotations(obj):
    return obj.get("metadata", {}).get("annotations") or {}


# -- owner references ----------------------------------------------------------------------

def owner_reference(owner, controller=True, block_owner_deletion=True):
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": name(owner),
            "uid": owner["metadata"]["uid"], "controller": controller,
            "blockOwnerDeletion": block_owner_deletion}


def controller_of(obj):
    """The owner reference with controller: true, or None."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


# -- conditions ------------------------------------------------------------------------------

def get_condition(status, type_):
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def set_condition(status, type_, value, reason="", message="", at=None, **extra):
    """Set a condition in `status`; lastTransitionTime moves only when the status flips.

    Returns True if anything changed.
    """
    new = {"type": type_, "status": {True: "True", False: "False"}.get(value, value), **extra}
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    return _put_condition(status, new, at)


def _put_condition(status, new, at):
    """Add or replace the condition of `new`'s type, its lastTransitionTime kept unless its
    status flips; False if nothing changed."""
    conditions = status.setdefault("conditions", [])
    old = get_condition(status, new["type"])
    flipped = old is None or old.get("status") != new["status"]
    new["lastTransitionTime"] = (at or now()) if flipped else old.get("lastTransitionTime")
    if old == new:
        return False
    if old is None:
        conditions.append(new)
    else:
        conditions[conditions.index(old)] = new
    return True


def set_status_condition(status, type_, value, reason, message="", observed_generation=0,
                         at=None):
    """apimeta.SetStatusCondition: set a ``metav1.Condition`` in `status`, the condition type
    of newer kinds (PodDisruptionBudgets), which always carries a reason, a message (maybe
    empty) and the generation it was computed from. lastTransitionTime moves only when the
    status flips. Returns True if anything changed."""
    new = {"type": type_, "status": {True: "True", False: "False"}.get(value, value),
           "reason": reason, "message": message, "observedGeneration": observed_generation}
    return _put_condition(status, new, at)


def condition_true(obj, type_):
    c = get_condition(obj.get("status"), type_)
    return bool(c) and c.get("status") == "True"


# -- taints and tolerations (v1.Toleration.ToleratesTaint) --------------------------------------

def tolerates(toleration, taint):
    """Does one toleration tolerate one taint? An empty effect, or an empty key with
    operator Exists, matches all."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(pod, taint):
    """Does any of the pod's tolerations tolerate the taint?"""
    return any(tolerates(t, taint) for t in (pod.get("spec") or {}).get("tolerations") or [])


# -- label selectors ---------------------------------------------------------------------------
# A selector is a list of requirements (key, operator, values), operators as in
# metav1.LabelSelectorRequirement: In, NotIn, Exists, DoesNotExist (plus = and != from the
# string form, which are In/NotIn with one value).

_TERM = re.compile(r"""\s*(?:
      (?P<notkey>!)\s*(?P<nk>[^\s,!=()]+)                                   # !key
    | (?P<sk>[^\s,!=()]+)\s+(?P<setop>in|notin)\s*\((?P<vals>[^)]*)\)       # key in (a,b)
    | (?P<ek>[^\s,!=()]+)\s*(?P<eqop>==|=|!=)\s*(?P<ev>[^\s,!=()]*)         # key=value
    | (?P<xk>[^\s,!=()]+)                                                   # key
    )\s*(?:,|$)""", re.X)


class SelectorError(ValueError):
    pass


def parse_selector(text):
    """Parse the string form: ``app=web,tier in (a,b),!canary,track``."""
    reqs, pos, text = [], 0, (text or "").strip()
    while pos < len(text):
        m = _TERM.match(text, pos)
        if not m or m.end() == pos:
            raise SelectorError(f"unable to parse requirement: {text[pos:]!r}")
        pos = m.end()
        if m["notkey"]:
            reqs.append((m["nk"], "DoesNotExist", []))
        elif m["setop"]:
            vals = [v.strip() for v in m["vals"].split(",") if v.strip()]
            reqs.append((m["sk"], "In" if m["setop"] == "in" else "NotIn", vals))
        elif m["eqop"]:
            reqs.append((m["ek"], "NotIn" if m["eqop"] == "!=" else "In", [m["ev"]]))
        else:
            reqs.append((m["xk"], "Exists", []))
    return reqs


def selector_from_dict(selector):
    """A metav1.LabelSelector (matchLabels + matchExpressions) as requirements."""
    selector = selector or {}
    reqs = [(k, "In", [v]) for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        reqs.append((e["key"], e["operator"], list(e.get("values") or [])))
    return reqs


def selector_to_string(selector):
    """A metav1.LabelSelector (or a plain map, as Services use) in the string form."""
    if selector and "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    parts = []
    for k, op, vals in selector_from_dict(selector):
        if op == "In" and len(vals) == 1:
            parts.append(f"{k}={vals[0]}")
        elif op in ("In", "NotIn"):
            parts.append(f"{k} {op.lower()} ({','.join(vals)})")
        else:
            parts.append(k if op == "Exists" else f"!{k}")
    return ",".join(parts)


def matches(requirements, obj_labels):
    for k, op, vals in requirements:
        present = k in obj_labels
        if op == "In" and not (present and obj_labels[k] in vals):
            return False
        if op == "NotIn" and present and obj_labels[k] in vals:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def selects(selector, obj):
    """Does a selector (string, LabelSelector dict or plain map) select `obj`?

    An empty LabelSelector selects everything; a None selector nothing (as upstream).
    """
    if selector is None:
        return False
    if isinstance(selector, str):
        reqs = parse_selector(selector)
    elif "matchLabels" in selector or "matchExpressions" in selector or not selector:
        reqs = selector_from_dict(selector)
    else:
        reqs = selector_from_dict({"matchLabels": selector})
    return matches(reqs, labels(obj))


# -- field selectors --------------------------------------------------------------------------

def parse_field_selector(text):
    """``metadata.name=x,spec.nodeName!=`` -> [(path, op, value)] with op "=" or "!="."""
    reqs = []
    for term in filter(None, (t.strip() for t in (text or "").split(","))):
        m = re.fullmatch(r"([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*)", term)
        if not m:
            raise SelectorError(f"invalid field selector term: {term!r}")
        reqs.append((m[1], "!=" if m[2] == "!=" else "=", m[3]))
    return reqs


def field_value(obj, path):
    value = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def field_matches(requirements, obj):
    return all((field_value(obj, p) == v) == (op == "=") for p, op, v in requirements)


# -- quantities -----------------------------------------------------------------------------

_SUFFIX = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def parse_quantity(q):
    """"100m" -> 0.1, "128Mi" -> 134217728.0, "2" -> 2.0, 1.5 -> 1.5."""
    if isinstance(q, (int, float)):
        return float(q)
    m = re.fullmatch(r"\s*([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*", str(q))
    if not m or m[2] not in _SUFFIX:
        raise ValueError(f"quantities must match the regular expression "
                         f"'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {q!r}")
    return float(m[1]) * _SUFFIX[m[2]]


def format_cpu(cores):
    return f"{round(cores * 1000)}m" if cores != int(cores) else str(int(cores))


def format_memory(n):
    for suffix in ("Gi", "Mi", "Ki"):
        if n >= _SUFFIX[suffix] and n % _SUFFIX[suffix] == 0:
            return f"{int(n // _SUFFIX[suffix])}{suffix}"
    return str(int(n))
