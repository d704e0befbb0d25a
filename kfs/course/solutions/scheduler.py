"""Notebook 03's answers."""
from kfs.meta import parse_quantity


def cpu_requested(pod):
    return sum(parse_quantity(c.get("resources", {}).get("requests", {}).get("cpu", 0))
               for c in pod["spec"]["containers"])


def fits_cpu(pod, node, pods_on_node):
    used = sum(cpu_requested(p) for p in pods_on_node)
    return used + cpu_requested(pod) <= parse_quantity(node["status"]["allocatable"]["cpu"])
