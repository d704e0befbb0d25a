"""The Deployment controller: roll a pod template out through ReplicaSets.

Mirrors ``pkg/controller/deployment/deployment_controller.go`` (handlers, ``syncDeployment``,
``getReplicaSetsForDeployment``, ``getPodMapForDeployment``). The steps of one sync (the new
ReplicaSet and revisions, the rollout strategies, scaling, status) are the methods of a
``deployment_rollout.Rollout`` made for that sync; the arithmetic is in ``deployment_util``.

``reconcile("ns/name")`` (upstream's ``syncDeployment``):

1. read the Deployment from the cache and work on a copy;
2. claim its ReplicaSets (adopt matching orphans, release those that stopped matching);
3. being deleted: only refresh the status. Paused: scale only, no rollout; note the
   pause in the Progressing condition (``DeploymentPaused`` / ``DeploymentResumed``);
4. a **scaling event** (``spec.replicas`` differs from a ReplicaSet's ``desired-replicas``
   annotation): scale the ReplicaSets proportionally, no rollout;
5. otherwise roll out: **RollingUpdate** (create the new ReplicaSet ``<name>-<hash>``,
   scale it up within ``maxSurge``, scale old ones down while at least ``replicas -
   maxUnavailable`` pods stay available) or **Recreate** (old ReplicaSets to 0, wait
   until their pods are gone, then the new one to full size);
6. write the status and the Progressing and Available conditions that ``kubectl rollout
   status`` reads.

``kubectl rollout undo`` needs no controller support: kubectl copies the old ReplicaSet's
template into the Deployment, and the controller finds that ReplicaSet as the new one
(same template) and gives it the next revision.

What real Kubernetes does differently: the deprecated in-controller rollback
(``spec.rollbackTo``) still exists for old API versions; events and status writes go
through typed clients; the informers' resync re-checks every Deployment periodically.
"""
import copy
import time

from kfs import meta
from kfs.controllers import controller_utils as cu
from kfs.controllers import deployment_util as du
from kfs.controllers.deployment_rollout import Rollout
from kfs.controllers.manager import Controller


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, client, informers, recorder=None, workers=5, clock=time.time):
        super().__init__(client, informers, recorder)
        self.workers, self.clock = workers, clock
        self.d_informer = informers["deployments"].add_handler(self.on_deployment)
        self.rs_informer = informers["replicasets"].add_handler(self.on_replicaset)
        self.pod_informer = informers["pods"].add_handler(self.on_pod)

    # -- event handlers ------------------------------------------------------------------

    def on_deployment(self, kind, d, old):
        self.enqueue(d)

    def owner_of(self, rs):
        ref = meta.controller_of(rs)
        if not ref or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(f"{meta.namespace(rs)}/{ref['name']}")
        return d if d and d["metadata"].get("uid") == ref.get("uid") else None

    def on_replicaset(self, kind, rs, old):
        owners = [self.owner_of(r) for r in (rs, old) if r is not None]
        for d in owners:
            if d is not None:
                self.enqueue(d)
        if kind != "DELETED" and meta.controller_of(rs) is None:
            for d in self.d_informer.list(namespace=meta.namespace(rs)):
                if meta.selects(d["spec"].get("selector"), rs):
                    self.enqueue(d)

    def on_pod(self, kind, pod, old):
        """Recreate waits for old pods to be gone: look again when one goes."""
        if kind != "DELETED":
            return
        ref = meta.controller_of(pod)
        if not ref or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{meta.namespace(pod)}/{ref['name']}")
        d = self.owner_of(rs) if rs else None
        if d is not None and du.strategy(d) == "Recreate":
            self.enqueue(d)

    # -- the sync (syncDeployment) ---------------------------------------------------------

    def reconcile(self, key):
        cached = self.d_informer.get(key)
        if cached is None:
            return None
        d = copy.deepcopy(cached)
        if not meta.selector_from_dict(d["spec"].get("selector")):
            self.event(d, "Warning", "SelectingAll",
                       "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 1):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"].get("generation", 1)
                self.client.update_status(d)
            return None
        rs_list = self.replicasets_for(d)
        rollout = Rollout(self.client, d, rs_list, self.pod_map(d, rs_list), self.recorder,
                          clock=self.clock, rs_cache=self.rs_informer)
        if cu.being_deleted(d):
            return rollout.sync_status_only()
        rollout.check_paused_conditions()
        if rollout.d["spec"].get("paused") or rollout.is_scaling_event():
            return rollout.sync()
        if du.strategy(rollout.d) == "Recreate":
            return rollout.rollout_recreate()
        return rollout.rollout_rolling()

    def replicasets_for(self, d):
        """Claim the namespace's ReplicaSets (getReplicaSetsForDeployment); copies."""
        def adopt(rs):
            return self.client.replace(cu.with_controller_ref(rs, d))

        def release(rs):
            return self.client.replace(cu.without_owner(rs, d["metadata"]["uid"]))

        claimed = cu.claim(d, self.rs_informer.list(namespace=meta.namespace(d)),
                           d["spec"].get("selector"), adopt, release,
                           can_adopt=lambda: cu.owner_still_adoptable(self.client,
                                                                      "deployments", d))
        return [copy.deepcopy(rs) for rs in claimed]

    def pod_map(self, d, rs_list):
        """ReplicaSet uid -> its pods (terminating ones too): what Recreate waits for."""
        uids = {rs["metadata"]["uid"]: [] for rs in rs_list}
        for pod in self.pod_informer.list(namespace=meta.namespace(d)):
            ref = meta.controller_of(pod)
            if ref and ref.get("uid") in uids:
                uids[ref["uid"]].append(pod)
        return uids
