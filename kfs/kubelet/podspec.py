"""From a pod's spec to what the runtime is asked for: sandbox and container configs.

- ``sandbox_config``: the pause container's name, hostname (``spec.hostname`` or the pod's
  name), labels, host ports (published on the sandbox, since it owns the network
  namespace) and DNS config (``kfs.kubelet.dns``: the resolv.conf every container of the
  pod shares);
- ``ensure_hosts_file``: the pod's managed ``/etc/hosts`` (``<pod dir>/etc-hosts``:
  localhost and the pod's own name, ``<hostname>.<subdomain>.<ns>.svc.<domain>`` first if
  it has a subdomain, then ``hostAliases``), bind-mounted into each app container;
- ``container_config``: command and args (``$(VAR)`` expanded), environment (values, and
  the downward API's ``fieldRef``), working dir, mounts of ``emptyDir`` and ``hostPath``
  volumes, CPU and memory limits turned into Docker's CPU shares, CPU quota and memory limit;
- ``container_hash``: a digest of a container's spec, kept in a label, so a changed spec
  (a new image, say) restarts that container.

Mirrors ``pkg/kubelet/kuberuntime/kuberuntime_sandbox.go`` (generatePodSandboxConfig),
``kuberuntime_container.go`` (generateContainerConfig), ``kubelet_pods.go`` (makeMounts,
makeHostsMount, managedHostsFileContent, GeneratePodHostNameAndDomain,
makeEnvironmentVariables), ``pkg/kubelet/volumemanager`` and the emptyDir / hostPath volume
plugins, and ``pkg/apis/core/v1/helper/qos`` (qos_class).

What real Kubernetes does differently: volumes are attached and mounted by a volume
manager with dozens of plugins (configMap, secret, CSI ...) before containers start;
emptyDir with ``medium: Memory`` is a tmpfs; resources go to cgroups arranged by QoS class.
"""
import hashlib
import json
import re
import shutil
from pathlib import Path

from kfs import meta
from kfs.kubelet import runtime as rt


class ConfigError(Exception):
    """A container that cannot be configured (CreateContainerConfigError)."""


def pod_labels(pod, container_name, kind):
    m = pod["metadata"]
    return {rt.POD_NAME: m["name"], rt.POD_NAMESPACE: m.get("namespace", "default"),
            rt.POD_UID: m["uid"], rt.CONTAINER_NAME: container_name, rt.CONTAINER_TYPE: kind,
            rt.GRACE_PERIOD: str(pod["spec"].get("terminationGracePeriodSeconds", 30))}


def sandbox_config(pod, attempt, dns_config=None, cluster_domain=""):
    """The pause container's config; `dns_config` (a ``kfs.kubelet.dns.DNSConfig``) is what
    its resolv.conf, shared by the pod's containers, will say."""
    labels = {**meta.labels(pod), **pod_labels(pod, rt.SANDBOX_NAME, "podsandbox")}
    ports = [(p["containerPort"], p.get("protocol", "TCP"), p["hostPort"], p.get("hostIP", ""))
             for c in pod["spec"]["containers"] for p in c.get("ports") or [] if p.get("hostPort")]
    hostname, _ = pod_hostname_and_domain(pod, cluster_domain)
    return rt.SandboxConfig(
        name=rt.container_name(rt.SANDBOX_NAME, pod, attempt), hostname=hostname,
        labels=labels, host_network=bool(pod["spec"].get("hostNetwork")), port_mappings=ports,
        dns_config=dns_config)


# -- hostname and /etc/hosts --------------------------------------------------------------------

HOSTS_HEADER = "# Kubernetes-managed hosts file.\n"
HOSTS_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n"
ETC_HOSTS = "/etc/hosts"


def pod_hostname_and_domain(pod, cluster_domain=""):
    """(hostname, domain): ``spec.hostname`` or the pod's name, cut to 63 characters; the
    domain ``<subdomain>.<ns>.svc.<cluster domain>`` if ``spec.subdomain`` is set
    (GeneratePodHostNameAndDomain)."""
    spec, name = pod["spec"], pod["metadata"]["name"]
    hostname = spec.get("hostname") or name
    if len(hostname) > 63:
        hostname = hostname[:63].rstrip("-.")
    domain = ""
    if spec.get("subdomain"):
        ns = pod["metadata"].get("namespace") or "default"
        domain = f"{spec['subdomain']}.{ns}.svc.{cluster_domain.strip('.')}"
    return hostname, domain


def hosts_file_content(pod_ips, hostname, domain, host_aliases=()):
    """The managed /etc/hosts of a pod with its own network namespace: localhost, the
    IPv6 names, and the pod's own name (with its FQDN first if it has a subdomain)."""
    lines = [HOSTS_HEADER, "127.0.0.1\tlocalhost\n",
             "::1\tlocalhost ip6-localhost ip6-loopback\n", "fe00::0\tip6-localnet\n",
             "fe00::0\tip6-mcastprefix\n", "fe00::1\tip6-allnodes\n",
             "fe00::2\tip6-allrouters\n"]
    names = f"{hostname}.{domain}\t{hostname}" if domain else hostname
    lines += [f"{ip}\t{names}\n" for ip in pod_ips]
    return "".join(lines) + host_aliases_entries(host_aliases)


def host_aliases_entries(host_aliases):
    if not host_aliases:
        return ""
    return "\n# Entries added by HostAliases.\n" + "".join(
        f"{a['ip']}\t{chr(9).join(a.get('hostnames') or [])}\n" for a in host_aliases)


def ensure_hosts_file(pod, root_dir, pod_ips, cluster_domain, node_hosts=ETC_HOSTS):
    """Write ``<pod dir>/etc-hosts`` (a hostNetwork pod's: the machine's own hosts file
    with a header); return its path."""
    path = pod_dir(root_dir, pod["metadata"]["uid"]) / "etc-hosts"
    path.parent.mkdir(parents=True, exist_ok=True)
    aliases = pod["spec"].get("hostAliases") or []
    if pod["spec"].get("hostNetwork"):
        text = HOSTS_HEADER_HOST_NETWORK + Path(node_hosts).read_text() + \
            host_aliases_entries(aliases)
    else:
        text = hosts_file_content(pod_ips, *pod_hostname_and_domain(pod, cluster_domain),
                                  aliases)
    path.write_text(text)
    path.chmod(0o644)
    return path


def container_hash(container):
    """A stable digest of the container's spec (labels.go: io.kubernetes.container.hash)."""
    return hashlib.sha256(json.dumps(container, sort_keys=True).encode()).hexdigest()[:8]


def container_config(pod, container, attempt, pod_ip, node_ip, root_dir, target_id=None,
                     cluster_domain=""):
    """The runtime's config of `container`; `target_id` (an ephemeral container's target)
    is the container whose PID namespace it joins."""
    env = make_env(pod, container, pod_ip, node_ip)
    labels = {**pod_labels(pod, container["name"], "container"),
              rt.CONTAINER_HASH: container_hash(container), rt.RESTART_COUNT: str(attempt)}
    limits = (container.get("resources") or {}).get("limits") or {}
    requests = (container.get("resources") or {}).get("requests") or {}
    cpu_request = requests.get("cpu", limits.get("cpu"))
    try:
        shares = max(2, int(meta.parse_quantity(cpu_request) * 1024)) if cpu_request else 2
        nano_cpus = int(meta.parse_quantity(limits["cpu"]) * 1e9) if "cpu" in limits else 0
        memory = int(meta.parse_quantity(limits["memory"])) if "memory" in limits else 0
    except ValueError as e:
        raise ConfigError(f"container {container['name']}: resources: {e}") from None
    return rt.ContainerConfig(
        name=rt.container_name(container["name"], pod, attempt), image=container["image"],
        labels=labels,
        command=[expand(a, env) for a in container["command"]] if "command" in container else None,
        args=[expand(a, env) for a in container["args"]] if "args" in container else None,
        env=env, working_dir=container.get("workingDir") or None,
        mounts=make_mounts(pod, container, root_dir, pod_ip, cluster_domain),
        cpu_shares=shares, nano_cpus=nano_cpus,
        memory_limit=memory, tty=bool(container.get("tty")), stdin=bool(container.get("stdin")),
        pid_mode=f"container:{target_id}" if target_id else None)


# -- environment -------------------------------------------------------------------------------

_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def expand(text, env):
    """Kubernetes' ``$(VAR)`` expansion: known variables replaced, ``$$`` escapes ``$``,
    unknown references left as they are (third_party/forked/golang/expansion)."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))
    return _VAR.sub(repl, str(text))


def field_ref(pod, path, pod_ip, node_ip):
    """The downward API: metadata.name, status.podIP, spec.nodeName, metadata.labels['x'] ..."""
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return (pod["metadata"].get(m[1]) or {}).get(m[2], "")
    values = {"metadata.name": pod["metadata"]["name"],
              "metadata.namespace": pod["metadata"].get("namespace", "default"),
              "metadata.uid": pod["metadata"]["uid"],
              "spec.nodeName": pod["spec"].get("nodeName", ""),
              "spec.serviceAccountName": pod["spec"].get("serviceAccountName", ""),
              "status.hostIP": node_ip, "status.hostIPs": node_ip,
              "status.podIP": pod_ip, "status.podIPs": pod_ip}
    if path not in values:
        raise ConfigError(f"unsupported fieldRef.fieldPath {path!r}")
    return values[path]


def make_env(pod, container, pod_ip, node_ip):
    env = {}
    for e in container.get("env") or []:
        source = e.get("valueFrom")
        if source is None:
            env[e["name"]] = expand(e.get("value", ""), env)
        elif "fieldRef" in source:
            env[e["name"]] = field_ref(pod, source["fieldRef"]["fieldPath"], pod_ip, node_ip)
        else:
            raise ConfigError(f"env {e['name']}: valueFrom.{next(iter(source), '?')} is not "
                              f"supported by kfs (only fieldRef)")
    return env


# -- volumes -----------------------------------------------------------------------------------

def pod_dir(root_dir, uid):
    return Path(root_dir) / "pods" / uid


def volume_path(pod, volume, root_dir):
    """The host path a volume lives at, created if its type says so."""
    if "emptyDir" in volume:
        path = pod_dir(root_dir, pod["metadata"]["uid"]) / "volumes" / \
            "kubernetes.io~empty-dir" / volume["name"]
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o777)
        return path
    if "hostPath" in volume:
        return host_path(volume["hostPath"])
    kind = next((k for k in volume if k != "name"), "?")
    raise ConfigError(f"volume {volume['name']!r}: {kind} volumes are not supported by kfs "
                      f"(only emptyDir and hostPath)")


def host_path(source):
    path, kind = Path(source["path"]), source.get("type", "")
    if kind == "DirectoryOrCreate":
        path.mkdir(parents=True, exist_ok=True)
    elif kind == "FileOrCreate":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(exist_ok=True)
    elif kind == "Directory" and not path.is_dir():
        raise ConfigError(f"hostPath type check failed: {path} is not a directory")
    elif kind == "File" and not path.is_file():
        raise ConfigError(f"hostPath type check failed: {path} is not a file")
    elif kind and kind not in ("Directory", "File") and not path.exists():
        raise ConfigError(f"hostPath type check failed: {path} does not exist")
    return path


def make_mounts(pod, container, root_dir, pod_ip="", cluster_domain=""):
    """The container's volume mounts, and the pod's managed /etc/hosts once the pod has an
    address (unless the container mounts something there itself)."""
    volumes = {v["name"]: v for v in pod["spec"].get("volumes") or []}
    mounts = []
    for m in container.get("volumeMounts") or []:
        if m["name"] not in volumes:
            raise ConfigError(f"volumeMount {m['name']!r}: no such volume in the pod")
        path = volume_path(pod, volumes[m["name"]], root_dir)
        if m.get("subPath"):
            path = path / m["subPath"]
            path.mkdir(parents=True, exist_ok=True)
        mounts.append((str(path), m["mountPath"], bool(m.get("readOnly"))))
    if pod_ip and all(m[1] != ETC_HOSTS for m in mounts):
        hosts = ensure_hosts_file(pod, root_dir, [pod_ip], cluster_domain)
        mounts.append((str(hosts), ETC_HOSTS, False))
    return mounts


def remove_pod_dir(root_dir, uid):
    shutil.rmtree(pod_dir(root_dir, uid), ignore_errors=True)


# -- QoS -----------------------------------------------------------------------------------------

def qos_class(pod):
    """Guaranteed (every container limits = requests for cpu and memory), BestEffort (no
    requests or limits at all), else Burstable."""
    containers = pod["spec"].get("containers") or []
    res = [c.get("resources") or {} for c in containers]
    if not any((r.get("limits") or r.get("requests")) for r in res):
        return "BestEffort"
    for r in res:
        limits, requests = r.get("limits") or {}, r.get("requests") or {}
        for k in ("cpu", "memory"):
            if k not in limits or requests.get(k, limits[k]) != limits[k]:
                return "Burstable"
    return "Guaranteed"
