"""The first cell of a notebook: the lab caught up to the notebook's stage.

``catch_up(stage)`` brings the lab to `stage` (creating what is missing, repairing what
died: ``kfs.Lab().up``), then, once there is an API server, an admin client and the nodes
Ready, with a progress bar. It returns ``(lab, api)``; ``api`` is None before stage
``apiserver``. (Going to another number of etcd members keeps the data: the lab restores
a snapshot into the new members.)
"""
from kfs import meta
from kfs.course.waiting import wait


def nodes_ready(api, count):
    return sum(meta.condition_true(n, "Ready") for n in api.list("nodes")["items"]) >= count


def catch_up(stage, **options):
    from kfs.client import Client
    from kfs.lab import Lab
    from kfs.lab.stages import at_least
    lab = Lab().up(stage=stage, **options)
    if not at_least("apiserver", stage):
        return lab, None
    api = Client.from_kubeconfig(lab.admin_kubeconfig)
    wait(lambda: nodes_ready(api, len(lab.nodes)), 90, what=f"the {len(lab.nodes)} nodes Ready")
    return lab, api
