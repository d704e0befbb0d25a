"""Deployments (``apps/v1``): ReplicaSets rolled from one template to the next.

- **defaults**: ``replicas: 1``, a RollingUpdate strategy of 25% / 25%,
  ``revisionHistoryLimit: 10``, ``progressDeadlineSeconds: 600``, and the pod-template
  defaults;
- **generation** moves on spec changes *and* annotation changes (the controller copies a
  Deployment's annotations onto its ReplicaSets, so they are part of what it must roll out);
- **validation**: the strategy (Recreate has no rollingUpdate; maxSurge and maxUnavailable
  are ints or percents, not both 0), the deadlines, and what every workload must satisfy
  (``kinds/apps.py``: selector, template, /status, /scale).

Mirrors pkg/apis/apps/v1/defaults.go (SetDefaults_Deployment), pkg/registry/apps/deployment
(strategy.go: PrepareForUpdate's annotation rule; storage/storage.go: ScaleREST),
pkg/apis/apps/validation (ValidateDeploymentSpec, ValidateRollingUpdateDeployment) and
printDeployment.

What real Kubernetes does differently: also the ``rollback`` subresource of the old
extensions API and ``paused`` handling in printers; the same rules otherwise.
"""
from kfs import meta
from kfs.apiserver.kinds.apps import (TEMPLATE_WIDE, Workload, containers_images, selector_text,
                                      validate_selector_and_template)
from kfs.apiserver.kinds.pod import default_template
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import (
    Go, forbidden, go_repr, invalid, non_negative, not_supported, regex_error, required)

COLUMNS = [NAME, col("Ready", description="Number of the pod with ready state"),
           col("Up-to-date", description="Total number of non-terminated pods targeted by this "
               "deployment that have the desired template spec."),
           col("Available", description="Total number of available pods (ready for at least "
               "minReadySeconds) targeted by this deployment."), AGE, *TEMPLATE_WIDE]


def validate_deployment_spec(spec, path="spec"):
    errs = non_negative(spec.get("replicas", 0), f"{path}.replicas")
    errs += validate_selector_and_template(spec, path)
    errs += validate_strategy(spec.get("strategy") or {}, f"{path}.strategy")
    errs += non_negative(spec.get("minReadySeconds", 0), f"{path}.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        errs += non_negative(spec["revisionHistoryLimit"], f"{path}.revisionHistoryLimit")
    pds = spec.get("progressDeadlineSeconds")
    if pds is not None:
        errs += non_negative(pds, f"{path}.progressDeadlineSeconds")
        if pds <= spec.get("minReadySeconds", 0):
            errs.append(invalid(f"{path}.progressDeadlineSeconds", pds, "must be greater than minReadySeconds"))
    return errs


def validate_strategy(strategy, path):
    type_, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    if type_ == "Recreate":
        return [forbidden(f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'")
                ] if rolling is not None else []
    if type_ == "RollingUpdate":
        if rolling is None:
            return [required(f"{path}.rollingUpdate", "this should be defaulted and never be nil")]
        return validate_rolling_update(rolling, f"{path}.rollingUpdate")
    ru = "(*apps.RollingUpdateDeployment)(nil)" if rolling is None else "&apps.RollingUpdateDeployment{...}"
    return [not_supported(path, Go(f"apps.DeploymentStrategy{{Type:{go_repr(type_ or '')}, RollingUpdate:{ru}}}"),
                          ["Recreate", "RollingUpdate"])]


def validate_rolling_update(rolling, path):
    errs = []
    for f in ("maxUnavailable", "maxSurge"):
        v = rolling.get(f, 0)
        if isinstance(v, str):
            if not _percent(v):
                errs.append(invalid(f"{path}.{f}", Go(v), regex_error(
                    "a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%")))
        else:
            errs += non_negative(v, f"{path}.{f}")
    mu, ms = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
    if _int_or_percent(mu) == 0 and _int_or_percent(ms) == 0:
        errs.append(invalid(f"{path}.maxUnavailable", Go(str(mu)), "may not be 0 when `maxSurge` is 0"))
    if isinstance(mu, str) and _percent(mu) and int(mu[:-1]) > 100:
        errs.append(invalid(f"{path}.maxUnavailable", Go(mu), "must not be greater than 100%"))
    return errs


def _percent(v):
    return v[:-1].isdigit() and v.endswith("%")


def _int_or_percent(v):
    if isinstance(v, str):
        return int(v[:-1]) if _percent(v) else int(v) if v.isdigit() else 0
    return v


class Deployment(Workload):
    api_version, kind = "apps/v1", "Deployment"
    columns = COLUMNS

    def default(self, d):
        spec = d.setdefault("spec", {})
        spec.setdefault("replicas", 1)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.get("rollingUpdate")
            if rolling is None:
                rolling = strategy["rollingUpdate"] = {}
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        default_template(d)

    def spec_changed(self, new, old):   # annotations are copied to ReplicaSets: they count
        return new.get("spec") != old.get("spec") or meta.annotations(new) != meta.annotations(old)

    def validate(self, d):
        return validate_deployment_spec(d.get("spec") or {})

    def print_row(self, d, now):
        spec, status = d.get("spec") or {}, d.get("status") or {}
        names, images = containers_images(spec.get("template"))
        return [meta.name(d), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
                status.get("updatedReplicas", 0), status.get("availableReplicas", 0), age(d, now),
                names, images, selector_text(spec.get("selector"))]


KIND = Deployment
