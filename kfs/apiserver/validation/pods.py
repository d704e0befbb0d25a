"""Pod validation: containers, ports, probes, resources, volumes, and what an update may change.

A Pod's spec is checked wherever one appears: in a Pod (``spec``), and in the template of
a Deployment or ReplicaSet (``spec.template.spec``). After creation a Pod's spec is almost
frozen: only container images, ``activeDeadlineSeconds`` (downwards), added tolerations
and a negative grace period set to 1 may change; anything else is upstream's
``pod updates may not change fields other than ...``.

Mirrors pkg/apis/core/validation/validation.go: ValidatePodSpec, validateContainers,
validateContainerPorts, validatePodDNSConfig, ValidateEnv, ValidateVolumeMounts, validateProbe/validateHandler,
ValidateResourceRequirements, ValidateVolumes, ValidatePodTemplateSpec, ValidatePodUpdate.

What real Kubernetes does differently: security contexts, affinity, topology spread,
ephemeral containers, ~30 volume sources and dozens of feature-gated fields are validated
too; the update message ends with a full ``cmp.Diff`` of the PodSpec where kfs lists the
changed top-level fields.
"""
import copy
import json

from kfs import meta
from kfs.apiserver.validation.fields import (
    INVALID_IP, IS_NEGATIVE, _each, dns1123_label, dns1123_subdomain, duplicate, forbidden,
    invalid, is_ip, non_negative, not_found, not_supported, port_name, port_num, qualified_name,
    required, validate_annotations, validate_labels)

PROTOCOLS = ["SCTP", "TCP", "UDP"]
RESTART_POLICIES = ["Always", "OnFailure", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
HOST_PATH_TYPES = ["", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                   "FileOrCreate", "Socket"]
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
VOLUME_SOURCES = ("emptyDir", "hostPath", "secret", "configMap", "downwardAPI", "projected",
                  "persistentVolumeClaim", "nfs", "ephemeral")
UPDATABLE_POD_FIELDS = ",".join([
    "`spec.containers[*].image`", "`spec.initContainers[*].image`", "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"])


# -- pod spec ----------------------------------------------------------------------------

def validate_pod_spec(spec, path="spec"):
    volumes, errs = validate_volumes(spec.get("volumes") or [], f"{path}.volumes")
    errs += validate_containers(spec.get("containers") or [], volumes, f"{path}.containers")
    inits = spec.get("initContainers") or []
    if inits:
        errs += validate_containers(inits, volumes, f"{path}.initContainers")
        names = {c.get("name") for c in spec.get("containers") or []}
        errs += [duplicate(f"{path}.initContainers[{i}].name", c.get("name"))
                 for i, c in enumerate(inits) if c.get("name") in names]
    errs += validate_ephemeral_containers(spec, volumes, f"{path}.ephemeralContainers")
    errs += _one_of(spec.get("restartPolicy"), RESTART_POLICIES, f"{path}.restartPolicy")
    errs += _one_of(spec.get("dnsPolicy"), DNS_POLICIES, f"{path}.dnsPolicy")
    errs += validate_dns_config(spec.get("dnsConfig"), spec.get("dnsPolicy"), f"{path}.dnsConfig")
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    for f in ("nodeName", "serviceAccountName", "priorityClassName"):
        if spec.get(f):
            errs += _each(dns1123_subdomain(spec[f]), f"{path}.{f}", spec[f])
    for f in ("hostname", "subdomain"):
        if spec.get(f):
            errs += _each(dns1123_label(spec[f]), f"{path}.{f}", spec[f])
    ads = spec.get("activeDeadlineSeconds")
    if ads is not None and not 1 <= ads <= 2**31 - 1:
        errs.append(invalid(f"{path}.activeDeadlineSeconds", ads, "must be between 1 and 2147483647, inclusive"))
    for i, t in enumerate(spec.get("tolerations") or []):
        errs += validate_toleration(t, f"{path}.tolerations[{i}]")
    return errs


def validate_dns_config(config, policy, path):
    """validatePodDNSConfig: None needs a dnsConfig with a nameserver; at most 3 nameservers
    (IP addresses), 32 search domains, options with names."""
    if policy == "None" and not config:
        return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
    if policy == "None" and not config.get("nameservers"):
        return [required(f"{path}.nameservers",
                         "must provide at least one DNS nameserver when `dnsPolicy` is None")]
    config, errs = config or {}, []
    servers, searches = config.get("nameservers") or [], config.get("searches") or []
    if len(servers) > 3:
        errs.append(invalid(f"{path}.nameservers", servers, "must not have more than 3 nameservers"))
    errs += [invalid(f"{path}.nameservers[{i}]", ns, INVALID_IP)
             for i, ns in enumerate(servers) if not is_ip(ns)]
    if len(searches) > 32:
        errs.append(invalid(f"{path}.searches", searches, "must not have more than 32 search paths"))
    for i, search in enumerate(searches):
        if search != ".":
            errs += _each(dns1123_subdomain(search.removesuffix(".")), f"{path}.searches[{i}]",
                          search)
    errs += [required(f"{path}.options[{i}]", "must not be empty")
             for i, op in enumerate(config.get("options") or []) if not op.get("name")]
    return errs


# EphemeralContainerCommon's fields an ephemeral container may set (allowedEphemeralContainerFields)
EPHEMERAL_ALLOWED = {"name", "image", "command", "args", "workingDir", "envFrom", "env",
                     "volumeMounts", "terminationMessagePath", "terminationMessagePolicy",
                     "imagePullPolicy", "securityContext", "stdin", "stdinOnce", "tty",
                     "targetContainerName"}
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def validate_ephemeral_containers(spec, volumes, path):
    """validateEphemeralContainers: a container's rules, a name unique across every kind of
    container, a target that is one of the pod's (non-ephemeral) containers, and none of
    the fields that would make it part of the workload (ports, probes, resources...)."""
    ephemeral = spec.get("ephemeralContainers") or []
    if not ephemeral:
        return []
    errs = validate_containers(ephemeral, volumes, path)
    others = [c.get("name") for c in (spec.get("containers") or []) +
              (spec.get("initContainers") or [])]
    for i, ec in enumerate(ephemeral):
        p = f"{path}[{i}]"
        if ec.get("name") in others:
            errs.append(duplicate(f"{p}.name", ec.get("name")))
        target = ec.get("targetContainerName")
        if target and target not in others:
            errs.append(not_found(f"{p}.targetContainerName", target))
        errs += [forbidden(f"{p}.{f}", "cannot be set for an Ephemeral Container")
                 for f, value in ec.items() if f not in EPHEMERAL_ALLOWED and value]
        for j, m in enumerate(ec.get("volumeMounts") or []):
            errs += [forbidden(f"{p}.volumeMounts[{j}].{f}", "cannot be set for an Ephemeral "
                               "Container") for f in ("subPath", "subPathExpr") if m.get(f)]
    return errs


def validate_pod_create(spec):
    """ValidatePodCreate: ephemeral containers come only through their subresource."""
    if spec.get("ephemeralContainers"):
        return [forbidden("spec.ephemeralContainers", "cannot be set on create")]
    return []


def validate_ephemeral_containers_update(new, old):
    """ValidatePodEphemeralContainersUpdate: the new pod valid, a static pod refused, and
    every existing ephemeral container still there, unchanged."""
    if MIRROR_ANNOTATION in ((old.get("metadata") or {}).get("annotations") or {}):
        return [forbidden("", "static pods do not support ephemeral containers")]
    errs = validate_pod_spec(new.get("spec") or {})
    new_by_name = {c.get("name"): c for c in (new.get("spec") or {}).get("ephemeralContainers") or []}
    for oc in (old.get("spec") or {}).get("ephemeralContainers") or []:
        name = oc.get("name")
        if name not in new_by_name:
            errs.append(forbidden("spec.ephemeralContainers",
                                  f'existing ephemeral containers "{name}" may not be removed\n'))
        elif new_by_name[name] != oc:
            errs.append(forbidden("spec.ephemeralContainers",
                                  f'existing ephemeral containers "{name}" may not be changed\n'))
    return errs


def _one_of(value, allowed, path):
    if value is None:
        return []
    return [required(path)] if value == "" else [] if value in allowed else [not_supported(path, value, allowed)]


def validate_toleration(t, path):
    errs = _each(qualified_name(t["key"]), f"{path}.key", t["key"]) if t.get("key") else []
    if not t.get("key") and t.get("operator") != "Exists":
        errs.append(invalid(f"{path}.operator", t.get("operator", ""),
                            'operator must be Exists when `key` is empty, which means "match all values and all keys"'))
    if t.get("operator") not in (None, "", "Equal", "Exists"):
        errs.append(not_supported(f"{path}.operator", t["operator"], ["Equal", "Exists"]))
    if t.get("effect") and t["effect"] not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        errs.append(not_supported(f"{path}.effect", t["effect"], ["NoSchedule", "PreferNoSchedule", "NoExecute"]))
    return errs


# -- containers ----------------------------------------------------------------------------

def validate_containers(containers, volumes, path):
    if not containers:
        return [required(path)]
    errs, names = [], set()
    for i, c in enumerate(containers):
        p, name = f"{path}[{i}]", c.get("name", "")
        errs += [required(f"{p}.name")] if not name else _each(dns1123_label(name), f"{p}.name", name)
        if name in names:
            errs.append(duplicate(f"{p}.name", name))
        names.add(name)
        image = c.get("image") or ""
        if not image:
            errs.append(required(f"{p}.image"))
        elif image != image.strip():
            errs.append(invalid(f"{p}.image", image, "must not have leading or trailing whitespace"))
        errs += validate_lifecycle(c.get("lifecycle"), f"{p}.lifecycle")
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            errs += validate_probe(c.get(probe), f"{p}.{probe}")
        for probe in ("livenessProbe", "startupProbe"):
            st = (c.get(probe) or {}).get("successThreshold", 1)
            if c.get(probe) is not None and st != 1:
                errs.append(invalid(f"{p}.{probe}.successThreshold", st, "must be 1"))
        tmp = c.get("terminationMessagePolicy")
        if tmp not in (None, "File", "FallbackToLogsOnError"):
            errs.append(invalid(f"{p}.terminationMessagePolicy", tmp, "must be 'File' or 'FallbackToLogsOnError'"))
        errs += validate_container_ports(c.get("ports") or [], f"{p}.ports")
        errs += validate_env(c.get("env") or [], f"{p}.env")
        errs += validate_volume_mounts(c.get("volumeMounts") or [], volumes, f"{p}.volumeMounts")
        errs += _one_of(c.get("imagePullPolicy"), PULL_POLICIES, f"{p}.imagePullPolicy")
        errs += validate_resources(c.get("resources") or {}, f"{p}.resources")
    return errs + _host_port_conflicts(containers, path)


def validate_container_ports(ports, path):
    errs, names = [], set()
    for i, port in enumerate(ports):
        p, name = f"{path}[{i}]", port.get("name")
        if name:
            msgs = port_name(name)
            errs += _each(msgs, f"{p}.name", name) or ([duplicate(f"{p}.name", name)] if name in names else [])
            names.add(name)
        cp = port.get("containerPort")
        errs += [required(f"{p}.containerPort")] if not cp else _each(port_num(cp), f"{p}.containerPort", cp)
        if port.get("hostPort"):
            errs += _each(port_num(port["hostPort"]), f"{p}.hostPort", port["hostPort"])
        proto = port.get("protocol")
        if proto is not None and proto not in PROTOCOLS:
            errs.append(required(f"{p}.protocol") if proto == "" else not_supported(f"{p}.protocol", proto, PROTOCOLS))
    return errs


def _host_port_conflicts(containers, path):
    seen, errs = set(), []
    for i, c in enumerate(containers):
        for j, port in enumerate(c.get("ports") or []):
            if port.get("hostPort"):
                key = f"{port.get('protocol', 'TCP')}/{port.get('hostIP', '')}/{port['hostPort']}"
                if key in seen:
                    errs.append(duplicate(f"{path}[{i}].ports[{j}].hostPort", key))
                seen.add(key)
    return errs


def validate_env(env, path):
    errs = []
    for i, e in enumerate(env):
        p, name = f"{path}[{i}]", e.get("name", "")
        if not name:
            errs.append(required(f"{p}.name"))
        elif any(not (32 <= ord(ch) < 127) or ch == "=" for ch in name):  # RelaxedEnvironmentVariableValidation
            errs.append(invalid(f"{p}.name", name, "a valid environment variable name must consist only of "
                                "printable ASCII characters other than '='"))
        source = e.get("valueFrom")
        if source is not None:
            n = sum(1 for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef") if source.get(k))
            if n == 0:
                errs.append(invalid(f"{p}.valueFrom", "", "must specify one of: `fieldRef`, `resourceFieldRef`, "
                                    "`configMapKeyRef` or `secretKeyRef`"))
            elif e.get("value"):
                errs.append(invalid(f"{p}.valueFrom", "", "may not be specified when `value` is not empty"))
            elif n > 1:
                errs.append(invalid(f"{p}.valueFrom", "", "may not have more than one field specified at a time"))
    return errs


def validate_volume_mounts(mounts, volumes, path):
    errs, paths = [], set()
    for i, m in enumerate(mounts):
        p = f"{path}[{i}]"
        if not m.get("name"):
            errs.append(required(f"{p}.name"))
        if m.get("name") not in volumes:
            errs.append(not_found(f"{p}.name", m.get("name", "")))
        if not m.get("mountPath"):
            errs.append(required(f"{p}.mountPath"))
        if m.get("mountPath") in paths:
            errs.append(invalid(f"{p}.mountPath", m["mountPath"], "must be unique"))
        paths.add(m.get("mountPath"))
    return errs


# -- probes and lifecycle hooks --------------------------------------------------------------

def validate_probe(probe, path):
    if probe is None:
        return []
    errs = validate_handler(probe, path)
    for f in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold", "failureThreshold"):
        errs += non_negative(probe.get(f, 0), f"{path}.{f}")
    return errs


def validate_lifecycle(lifecycle, path):
    return [e for hook in ("postStart", "preStop") if (lifecycle or {}).get(hook) is not None
            for e in validate_handler(lifecycle[hook], f"{path}.{hook}")]


def validate_handler(handler, path):
    """Exactly one of exec, httpGet, tcpSocket, grpc."""
    errs, n = [], 0
    for kind in HANDLERS:
        action = handler.get(kind)
        if action is None:
            continue
        if n:
            errs.append(forbidden(f"{path}.{kind}", "may not specify more than 1 handler type"))
            continue
        n += 1
        p = f"{path}.{kind}"
        if kind == "exec" and not action.get("command"):
            errs.append(required(f"{p}.command"))
        if kind == "httpGet":
            if action.get("path") == "":
                errs.append(required(f"{p}.path"))
            if action.get("scheme", "HTTP") not in ("HTTP", "HTTPS"):
                errs.append(not_supported(f"{p}.scheme", action["scheme"], ["HTTP", "HTTPS"]))
        if kind != "exec":
            errs += validate_port_num_or_name(action.get("port"), f"{p}.port")
    if n == 0:
        errs.append(required(path, "must specify a handler type"))
    return errs


def validate_port_num_or_name(port, path):
    """An IntOrString port: a number in 1-65535 or an IANA-style port name."""
    if isinstance(port, str):
        return _each(port_name(port), path, port)
    return _each(port_num(port), path, 0 if port is None else port)


# -- resources ----------------------------------------------------------------------------

def validate_resources(res, path):
    errs, parsed = [], {}
    for kind in ("limits", "requests"):
        for name, q in (res.get(kind) or {}).items():
            p = f"{path}.{kind}[{name}]"
            if "/" not in name and name not in ("cpu", "memory", "ephemeral-storage") \
                    and not name.startswith("hugepages-"):
                errs.append(invalid(p, name, "must be a standard resource for containers"))
            try:
                parsed[kind, name] = meta.parse_quantity(q)
            except ValueError as e:
                errs.append(invalid(p, str(q), str(e).rsplit(": ", 1)[0]))
                continue
            if parsed[kind, name] < 0:
                errs.append(invalid(p, str(q), IS_NEGATIVE))
    for name, q in (res.get("requests") or {}).items():
        limit = (res.get("limits") or {}).get(name)
        if ("limits", name) in parsed and ("requests", name) in parsed \
                and parsed["requests", name] > parsed["limits", name]:
            errs.append(invalid(f"{path}.requests", str(q),
                                f"must be less than or equal to {name} limit of {limit}"))
    return errs


# -- volumes ------------------------------------------------------------------------------

def validate_volumes(volumes, path):
    """The errors, and the names of the valid volumes (mounts must refer to one)."""
    names, errs = set(), []
    for i, v in enumerate(volumes):
        p, name = f"{path}[{i}]", v.get("name", "")
        el = validate_volume_source(v, p)
        el += [required(f"{p}.name")] if not name else _each(dns1123_label(name), f"{p}.name", name)
        if name in names:
            el.append(duplicate(f"{p}.name", name))
        if not el:
            names.add(name)
        errs += el
    return names, errs


def validate_volume_source(volume, path):
    sources = [k for k in VOLUME_SOURCES if volume.get(k) is not None]
    sources += [k for k in volume if k != "name" and k not in VOLUME_SOURCES]
    if not sources:
        return [required(path, "must specify a volume type")]
    errs = [forbidden(f"{path}.{k}", "may not specify more than 1 volume type") for k in sources[1:]]
    host = volume.get("hostPath") if sources[0] == "hostPath" else None
    if host is not None:
        if not host.get("path"):
            return errs + [required(f"{path}.hostPath.path")]
        if ".." in host["path"].split("/"):
            errs.append(invalid(f"{path}.hostPath.path", host["path"], "must not contain '..'"))
        if host.get("type", "") not in HOST_PATH_TYPES:
            errs.append(not_supported(f"{path}.hostPath.type", host["type"], HOST_PATH_TYPES))
    size = (volume.get("emptyDir") or {}).get("sizeLimit") if sources[0] == "emptyDir" else None
    if size is not None and _negative_quantity(size):
        errs.append(forbidden(f"{path}.emptyDir.sizeLimit", "SizeLimit field must be a valid resource quantity"))
    return errs


def _negative_quantity(q):
    try:
        return meta.parse_quantity(q) < 0
    except ValueError:
        return True


# -- templates and updates -------------------------------------------------------------------

def validate_pod_template(template, path):
    """ValidatePodTemplateSpec: labels (at ``<path>.labels``, as upstream), annotations, spec."""
    md = template.get("metadata") or {}
    return (validate_labels(md.get("labels"), f"{path}.labels")
            + validate_annotations(md.get("annotations"), f"{path}.annotations")
            + validate_pod_spec(template.get("spec") or {}, f"{path}.spec"))


def validate_pod_update(new, old):
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = []
    for f in ("containers", "initContainers"):
        if len(new_spec.get(f) or []) != len(old_spec.get(f) or []):
            return [forbidden(f"spec.{f}", "pod updates may not add or remove containers")]
    ads, old_ads = new_spec.get("activeDeadlineSeconds"), old_spec.get("activeDeadlineSeconds")
    if ads is not None and old_ads is not None and ads > old_ads:
        return errs + [invalid("spec.activeDeadlineSeconds", ads, "must be less than or equal to previous value")]
    if ads is None and old_ads is not None:
        errs.append(invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value"))
    def but_seconds(t):
        return {k: v for k, v in t.items() if k != "tolerationSeconds"}
    for t in old_spec.get("tolerations") or []:
        if not any(but_seconds(t) == but_seconds(n) for n in new_spec.get("tolerations") or []):
            errs.append(forbidden("spec.tolerations", "existing toleration can not be modified except its tolerationSeconds"))
            break
    munged = copy.deepcopy(new_spec)
    for f in ("containers", "initContainers"):
        for c, oc in zip(munged.get(f) or [], old_spec.get(f) or []):
            c["image"] = oc.get("image")
    for f in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(f, None)
        if f in old_spec:
            munged[f] = old_spec[f]
    if (old_spec.get("terminationGracePeriodSeconds") or 0) < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_spec["terminationGracePeriodSeconds"]
    if munged != old_spec:
        errs.append(forbidden("spec", f"pod updates may not change fields other than {UPDATABLE_POD_FIELDS}\n"
                              + spec_diff(old_spec, munged)))
    return errs


def spec_diff(old, new):
    """A short stand-in for upstream's cmp.Diff: the top-level PodSpec fields that differ."""
    lines = ["  core.PodSpec{"]
    for k in sorted(set(old) | set(new)):
        if old.get(k) != new.get(k):
            if k in old:
                lines.append(f"- \t{k}: {json.dumps(old[k], sort_keys=True)},")
            if k in new:
                lines.append(f"+ \t{k}: {json.dumps(new[k], sort_keys=True)},")
    return "\n".join(lines + ["  }"])


def validate_binding(binding):
    """ValidatePodBinding: the target of pods/binding is a Node, by name."""
    target, errs = binding.get("target") or {}, []
    if target.get("kind") and target["kind"] != "Node":
        errs.append(not_supported("target.kind", target["kind"], ["Node", "<empty>"]))
    if not target.get("name"):
        errs.append(required("target.name"))
    return errs


def validate_pod_status_update(new, old):
    errs = []
    if (new.get("spec") or {}).get("nodeName") != (old.get("spec") or {}).get("nodeName"):
        errs.append(forbidden("status.nodeName", "may not be changed directly"))
    return errs

