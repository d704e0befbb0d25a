"""Server-side printing: the ``meta.k8s.io/v1`` Table that ``kubectl get`` prints.

kubectl does not know how to print a Pod. It asks the API server for a Table
(``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``) and prints its columns: the
server decides that a Pod's STATUS is ``CrashLoopBackOff`` or ``Init:0/1`` or
``Terminating``, that RESTARTS reads ``3 (12s ago)`` and AGE ``3m2s``. Columns with
``priority: 1`` are printed only by ``kubectl get -o wide``; the server always sends them.

`table(kind, objects, include_object=True, now=None)` builds one from the kind's `columns`
and `print_row` (each kind's printer is in its module in ``kfs.apiserver.kinds``). Each row
carries the object too, in full (``include_object=True`` or "Object"), as
PartialObjectMetadata ("Metadata", upstream's default) or not at all (False or "None"):
kubectl uses it for ``--show-labels``, sorting and ``-o name``. This module also holds what
printers share: column definitions, ages (``HumanDuration``), "a,b,c + 2 more...".

Mirrors pkg/printers/internalversion/printers.go (the TableGenerator and its helpers),
apimachinery pkg/util/duration (HumanDuration) and, for kinds with no printer (roles),
apiserver's default table convertor (NAME, CREATED AT).

What real Kubernetes does differently: printers for ~60 kinds; the table is generated from
the internal type, so a field the conversion fills (``clusterIPs`` from ``clusterIP``) is
always there; label selectors print in the internal selector's order.
"""
from datetime import datetime, timezone


NAME_DOC = ("Name must be unique within a namespace. Is required when creating resources, although some "
            "resources may allow a client to request the generation of an appropriate name automatically. "
            "Name is primarily intended for creation idempotence and configuration definition. Cannot be "
            "updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names")
AGE_DOC = ("CreationTimestamp is a timestamp representing the server time when this object was created. It is "
           "not guaranteed to be set in happens-before order across separate operations. Clients may not set "
           "this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. "
           "Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/"
           "sig-architecture/api-conventions.md#metadata")


def col(name, type_="string", description="", priority=0, fmt=""):
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


NAME, AGE = col("Name", fmt="name", description=NAME_DOC), col("Age", description=AGE_DOC)
DEFAULT_COLUMNS = [NAME, col("Created At", "date", AGE_DOC)]


def table(kind, objects, include_object=True, now=None, list_metadata=None):
    """A meta.k8s.io/v1 Table of `objects`, all of one kind (a ``kfs.apiserver.kinds.Kind``).

    `now` (a datetime, default the current time) is what AGE is measured against.
    """
    now = now or datetime.now(timezone.utc)
    rows = []
    for obj in objects:
        row = {"cells": kind.print_row(obj, now)}
        conditions = kind.row_conditions(obj)
        if conditions:
            row["conditions"] = conditions
        embedded = _embedded(obj, include_object)
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": dict(list_metadata or {}),
            "columnDefinitions": kind.columns, "rows": rows}


def _embedded(obj, include_object):
    if include_object in (True, "Object"):
        return obj
    if include_object == "Metadata":
        return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {}}
    return None


# -- time ----------------------------------------------------------------------------------

def human_duration(seconds):
    """HumanDuration: "5s", "3m2s", "15m", "5h10m", "2d3h", "120d", "3y40d"."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = hours // 24 % 365
        return f"{hours // 24 // 365}y{days}d" if days else f"{hours // 24 // 365}y"
    return f"{hours // 24 // 365}y"


def since(timestamp, now):
    """translateTimestampSince: the age of an RFC 3339 time, or "<unknown>"."""
    if not timestamp:
        return "<unknown>"
    t = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return human_duration((now - t).total_seconds())


def age(obj, now):
    return since((obj.get("metadata") or {}).get("creationTimestamp"), now)


def list_with_more(items, empty="<unset>"):
    """listWithMoreString: the first three, "a,b,c + 2 more...", or `empty` for none."""
    text = ",".join(items[:3]) or empty
    return f"{text} + {len(items) - 3} more..." if len(items) > 3 else text
