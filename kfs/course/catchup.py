"""The first cell of a notebook: the lab caught up to the notebook's stage.

``catch_up(stage)`` brings the lab to `stage` (creating what is missing, repairing what
died: ``kfs.Lab().up``), then, once there is an API server, an admin client and the nodes
Ready, with a progress bar. It returns ``(lab, api)``; ``api`` is None before stage
``apiserver``. Going to another number of etcd members (notebook 02 asks for three) is
said first, before anything is done (``Lab.up`` says it): the lab restores a snapshot of the
old members into the new ones, so every object is kept, or, if the old members are not
running, says that the new cluster will start empty and how to keep the objects. `lab` is the lab to catch up (default:
the one ``KFS_LAB`` names).
"""
from kfs import meta
from kfs.course.waiting import wait


def nodes_ready(api, count):
    return sum(meta.condition_true(n, "Ready") for n in api.list("nodes")["items"]) >= count


def catch_up(stage, lab=None, **options):
    from kfs.client import Client
    from kfs.lab import Lab
    from kfs.lab.stages import at_least, running
    lab = (lab or Lab()).up(stage=stage, **options)
    if not at_least("apiserver", stage):
        return lab, None
    api = Client.from_kubeconfig(lab.admin_kubeconfig)
    count = len(running(lab.nodes))   # a node kfs lab stop-node stopped is NotReady
    wait(lambda: nodes_ready(api, count), 90, what=f"the {count} nodes Ready")
    return lab, api
