"""The first cell of a notebook: the lab caught up to the notebook's stage.

``catch_up(stage)`` brings the lab to `stage` (creating what is missing, repairing what
died: ``kfs.Lab().up``), then, once there is an API server, an admin client and the nodes
Ready, with a progress bar. It returns ``(lab, api)``; ``api`` is None before stage
``apiserver``. Going to another number of etcd members (``etcd_members=3``) starts a new,
empty etcd cluster: ``catch_up`` says so before doing it.
"""
from kfs import meta
from kfs.course.waiting import wait


def nodes_ready(api, count):
    return sum(meta.condition_true(n, "Ready") for n in api.list("nodes")["items"]) >= count


def warn_etcd_members(lab, wanted):
    """Say it first: another number of etcd members is a new, empty etcd cluster."""
    from kfs.lab.stages import at_least
    have = int(lab.state.get("etcd_members") or 1)
    if wanted and wanted != have and at_least("apiserver", lab.state.get("stage")):
        print(f"Note: the lab's etcd has {have} member(s); going to {wanted} starts a new, "
              f"empty etcd cluster: the objects in the cluster now (./demo.sh's "
              f"deployment/echo, say) will be gone. To keep them, run this notebook on a lab "
              f"brought up with --etcd-members {wanted} from the start.")


def catch_up(stage, **options):
    from kfs.client import Client
    from kfs.lab import Lab
    from kfs.lab.stages import at_least
    lab = Lab()
    warn_etcd_members(lab, options.get("etcd_members"))
    lab = lab.up(stage=stage, **options)
    if not at_least("apiserver", stage):
        return lab, None
    api = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait(lambda: nodes_ready(api, len(lab.nodes)), 90, what=f"the {len(lab.nodes)} nodes Ready")
    return lab, api
