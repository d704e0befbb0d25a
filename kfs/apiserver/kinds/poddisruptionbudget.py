"""PodDisruptionBudgets (``policy/v1``): how many of an application's pods a voluntary
disruption (an eviction, as ``kubectl drain`` asks for) may take away at once.

- **spec**: a label ``selector`` of pods and either ``minAvailable`` or ``maxUnavailable``,
  each an integer or a percentage; ``unhealthyPodEvictionPolicy`` (``IfHealthyBudget`` or
  ``AlwaysAllow``) says whether pods that are not Ready may be evicted while the budget is
  not met. None of them is defaulted: without ``unhealthyPodEvictionPolicy`` an eviction
  behaves as ``IfHealthyBudget``, as upstream (which defaults nothing either);
- **create** starts the status at zero (``disruptionsAllowed: 0``: nothing may be evicted
  until the disruption controller has counted the pods) and ``metadata.generation`` at 1;
  spec changes move the generation, and the controller's ``status.observedGeneration``
  tells an eviction whether the status it reads is about the current spec;
- **status** (``/status``, written by the disruption controller and by evictions):
  ``currentHealthy``, ``desiredHealthy``, ``expectedPods``, ``disruptionsAllowed`` (all
  non-negative), ``disruptedPods`` (pods an eviction is deleting) and the condition
  ``DisruptionAllowed``;
- **validation**: minAvailable xor maxUnavailable, each a non-negative int or a percent of at
  most 100%, a valid selector, a known policy; conditions as every ``metav1.Condition``;
- **printing**: ``NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE``.

Mirrors pkg/registry/policy/poddisruptionbudget/strategy.go (PrepareForCreate, the status
strategy), pkg/apis/policy/validation (ValidatePodDisruptionBudgetSpec,
ValidatePodDisruptionBudgetStatusUpdate), apimachinery's ValidateConditions and
printPodDisruptionBudget.

What real Kubernetes does differently: policy/v1beta1 PDBs (gone since 1.25) read an empty
selector as "no pods" where policy/v1 reads it as "every pod of the namespace"; kfs serves
policy/v1 only. Selectors with invalid label values are tolerated on update when the stored
object already had them (a migration aid kfs does not need).
"""
import re

from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import (
    Go, duplicate, go_repr, invalid, non_negative, not_supported, qualified_name, regex_error, required,
    validate_label_selector)

POLICIES = ("AlwaysAllow", "IfHealthyBudget")
CONDITION_STATUSES = ("False", "True", "Unknown")
PERCENT = re.compile(r"[0-9]+%")
REASON = re.compile(r"[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?")
REASON_MSG = regex_error("a condition reason must start with alphabetic character, optionally followed by a "
                         "string of alphanumeric characters or '_,:', and must end with an alphanumeric "
                         "character or '_'", REASON.pattern, "my_name", "MY_NAME", "MyName",
                         "ReasonA,ReasonB", "ReasonA:ReasonB")
COUNTERS = ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods")

COLUMNS = [NAME, col("Min Available", description="The minimum number of pods that must be available."),
           col("Max Unavailable", description="The maximum number of pods that may be unavailable."),
           col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
           AGE]


def validate_int_or_percent(value, path):
    """ValidatePositiveIntOrPercent + IsNotMoreThan100Percent (pkg/apis/apps/validation)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return [invalid(path, Go(go_repr(value)), "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, int):
        return non_negative(value, path)
    if not PERCENT.fullmatch(value):
        return [invalid(path, Go(value), regex_error(
            "a valid percent string must be a numeric string followed by an ending '%'", "[0-9]+%", "1%", "93%"))]
    if int(value[:-1]) > 100:
        return [invalid(path, Go(value), "must not be greater than 100%")]
    return []


def validate_spec(spec, path="spec"):
    errs = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        errs.append(invalid(path, Go("policy.PodDisruptionBudgetSpec{...}"),
                            "minAvailable and maxUnavailable cannot be both set"))
    for f in ("minAvailable", "maxUnavailable"):
        if spec.get(f) is not None:
            errs += validate_int_or_percent(spec[f], f"{path}.{f}")
    if spec.get("selector") is not None:
        errs += validate_label_selector(spec["selector"], f"{path}.selector")
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in POLICIES:
        errs.append(not_supported(f"{path}.unhealthyPodEvictionPolicy", policy, POLICIES))
    return errs


def validate_conditions(conditions, path):
    """ValidateConditions: metav1.Conditions with a type, a known status, a reason, a time."""
    errs, seen = [], set()
    for i, c in enumerate(conditions or []):
        p = f"{path}[{i}]"
        if c.get("type") in seen:
            errs.append(duplicate(f"{p}.type", c.get("type")))
        seen.add(c.get("type"))
        errs += [invalid(f"{p}.type", c.get("type", ""), m) for m in qualified_name(c.get("type", ""))]
        if c.get("status") not in CONDITION_STATUSES:
            errs.append(not_supported(f"{p}.status", c.get("status", ""), CONDITION_STATUSES))
        if (c.get("observedGeneration") or 0) < 0:
            errs.append(invalid(f"{p}.observedGeneration", c["observedGeneration"],
                                "must be greater than or equal to zero"))
        if not c.get("lastTransitionTime"):
            errs.append(required(f"{p}.lastTransitionTime", "must be set"))
        if not c.get("reason"):
            errs.append(required(f"{p}.reason", "must be set"))
        elif not REASON.fullmatch(c["reason"]):
            errs.append(invalid(f"{p}.reason", c["reason"], REASON_MSG))
    return errs


def validate_status(status, path="status"):
    errs = validate_conditions(status.get("conditions"), f"{path}.conditions")
    for f in COUNTERS:
        errs += non_negative(status.get(f, 0), f"{path}.{f}")
    return errs


def int_or_string(value):
    """IntOrString.String(): how the table prints minAvailable and maxUnavailable."""
    return "N/A" if value is None else str(value)


class PodDisruptionBudget(Kind):
    api_version, kind = "policy/v1", "PodDisruptionBudget"
    columns = COLUMNS
    generation = True

    def prepare_for_create(self, pdb):
        pdb["status"] = {f: 0 for f in COUNTERS}

    def validate(self, pdb):
        return validate_spec(pdb.get("spec") or {})

    def validate_status_update(self, new, old):
        return validate_status(new.get("status") or {})

    def print_row(self, pdb, now):
        spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
        return [meta.name(pdb), int_or_string(spec.get("minAvailable")),
                int_or_string(spec.get("maxUnavailable")), status.get("disruptionsAllowed", 0),
                age(pdb, now)]


KIND = PodDisruptionBudget
