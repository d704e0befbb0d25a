"""What Deployments and ReplicaSets share: a selector over a pod template, counted generations,
replica counters in the status, and the ``scale`` subresource.

- **validation**: a selector is required, not empty, selects the template's labels, and
  never changes (apps/v1); the template is a valid pod template with ``restartPolicy:
  Always``; the status counters are non-negative and consistent;
- **status writes** keep the labels (the status strategies of both kinds);
- **/scale** reads and writes ``spec.replicas`` through an ``autoscaling/v1`` Scale
  (`to_scale`, `from_scale`): a spec change like any other, so the generation moves;
- **printing**: CONTAINERS, IMAGES and SELECTOR with ``-o wide``.

Mirrors pkg/apis/apps/validation/validation.go (ValidateReplicaSetSpec, the selector and
template checks, ValidateDeploymentStatus/ReplicaSetStatus), the apps/v1 strategies'
ValidateUpdate (selector immutable) and status strategies, and
pkg/registry/apps/deployment/storage (ScaleREST: scaleFromDeployment).

What real Kubernetes does differently: StatefulSets and DaemonSets share much of this too;
/scale also serves the HPA through a label-selector string it parses back.
"""
import copy

from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.strategy import keep_metadata
from kfs.apiserver.tables import col
from kfs.apiserver.validation.fields import (
    IMMUTABLE, Go, forbidden, invalid, label_selector_repr, non_negative, not_supported, required,
    validate_label_selector)
from kfs.apiserver.validation.pods import validate_pod_template

TEMPLATE_WIDE = [col("Containers", description="Names of each container in the template.", priority=1),
                 col("Images", description="Images referenced by each container in the template.", priority=1),
                 col("Selector", description="Label selector for pods.", priority=1)]


def validate_selector_and_template(spec, path):
    """A selector is required and not empty, and selects the pods its template makes."""
    sel, errs = spec.get("selector"), []
    if sel is None:
        errs.append(required(f"{path}.selector"))
    else:
        errs += validate_label_selector(sel, f"{path}.selector")
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            errs.append(invalid(f"{path}.selector", label_selector_repr(sel), "empty selector is invalid for deployment"))
    template, tpath = spec.get("template") or {}, f"{path}.template"
    labels = (template.get("metadata") or {}).get("labels")
    if sel is None or (sel and not meta.selects(sel, template)):   # a missing selector selects nothing
        errs.append(invalid(f"{tpath}.metadata.labels", labels if labels is not None else Go(
            "map[string]string(nil)"), "`selector` does not match template `labels`"))
    errs += validate_pod_template(template, tpath)
    policy = (template.get("spec") or {}).get("restartPolicy")
    if policy is not None and policy != "Always":
        errs.append(not_supported(f"{tpath}.spec.restartPolicy", policy, ["Always"]))
    if (template.get("spec") or {}).get("activeDeadlineSeconds") is not None:
        errs.append(forbidden(f"{tpath}.spec.activeDeadlineSeconds", "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


def validate_workload_status(new, old):
    status, errs = new.get("status") or {}, []
    counters = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas",
                "fullyLabeledReplicas", "observedGeneration")
    for f in counters:
        errs += non_negative(status.get(f, 0), f"status.{f}")
    for f in ("updatedReplicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"):
        if status.get(f, 0) > status.get("replicas", 0):
            errs.append(invalid(f"status.{f}", status[f], "cannot be greater than status.replicas"))
    if status.get("availableReplicas", 0) > status.get("readyReplicas", 0):
        errs.append(invalid("status.availableReplicas", status["availableReplicas"], "cannot be greater than readyReplicas"))
    return errs


def to_scale(obj):
    """The autoscaling/v1 Scale of a Deployment or ReplicaSet (scaleFromDeployment)."""
    md = obj.get("metadata") or {}
    selector = (obj.get("spec") or {}).get("selector")
    scale = {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                     if k in md},
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
        "status": {"replicas": (obj.get("status") or {}).get("replicas", 0)},
    }
    if selector is not None:
        scale["status"]["selector"] = meta.selector_to_string(selector)
    return scale


def from_scale(obj, scale):
    """A copy of `obj` with the Scale's spec.replicas, ready for the update's strategy.

    The Scale's resourceVersion, when it has one, becomes the update's precondition, as
    upstream's scaleUpdatedObjectInfo does.
    """
    new = copy.deepcopy(obj)
    new.setdefault("spec", {})["replicas"] = (scale.get("spec") or {}).get("replicas", 0)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    if rv:
        new.setdefault("metadata", {})["resourceVersion"] = rv
    return new


def containers_images(template):
    containers = ((template or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers)


def selector_text(sel):
    return meta.selector_to_string(sel) if sel else ""


class Workload(Kind):
    """A Deployment or a ReplicaSet: the rules they share."""

    generation = True

    def prepare_for_create(self, obj):
        obj["status"] = {}

    def prepare_for_status_update(self, new, old):
        keep_metadata(new["metadata"], old.get("metadata") or {}, "labels")

    def validate_update(self, new, old):
        sel, old_sel = new["spec"].get("selector"), (old.get("spec") or {}).get("selector")
        return [] if sel == old_sel else [invalid("spec.selector", label_selector_repr(sel), IMMUTABLE)]

    def validate_status_update(self, new, old):
        return validate_workload_status(new, old)

    def to_subresource(self, subresource, obj):
        return to_scale(obj) if subresource == "scale" else obj

    def from_subresource(self, subresource, current, body):
        return from_scale(current, body) if subresource == "scale" else body
