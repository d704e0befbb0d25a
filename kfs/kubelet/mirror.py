"""Mirror pods: how the API server shows the static pods a kubelet runs from its manifests.

A static pod (from ``--pod-manifest-path`` or ``--manifest-url``) exists only on its node.
With an API server the kubelet gives each one a *mirror pod*: a Pod of the same name,
namespace, labels and spec, bound to this node, owned by the Node, annotated
``kubernetes.io/config.mirror`` with the static pod's config hash. ``kubectl get pods``
lists it, its status is the static pod's (``status.ApiStatusWriter`` writes it there), and
events about the static pod name it (``involved``). Deleting a mirror pod stops nothing:

- ``sync_mirror_pod`` (every sync of a static pod) creates the mirror pod if there is none;
  one from an older manifest, or one being deleted (``kubectl delete``), is deleted for good
  and made again;
- ``cleanup`` (housekeeping) deletes mirror pods whose static pod is gone.

The kubelet's pods in the API server, mirror pods among them, come from the informer of
pods bound to this node, which the API source (``sources.APISource``) runs; ``MirrorPods``
only reads it.

Mirrors ``pkg/kubelet/pod/mirror_client.go`` (CreateMirrorPod, DeleteMirrorPod), the pod
manager's GetMirrorPodByPod (``pkg/kubelet/pod/pod_manager.go``), the mirror pod part of
``SyncPod`` in ``pkg/kubelet/kubelet.go`` and ``deleteOrphanedMirrorPods`` in
``kubelet_pods.go``.

What real Kubernetes does differently: a mirror pod is made only once the Node exists (it
must be its owner) and not while the Node is being deleted; the NodeRestriction admission
plugin lets a kubelet create mirror pods of its own node only, and nothing but mirror pods.
"""
import copy
import logging

from kfs import meta
from kfs.kubelet import manifest

log = logging.getLogger("kubelet.mirror")


class MirrorPods:
    """The mirror pods of this node's static pods. `pods` is the informer of the pods bound
    to this node; `node_uid()` the Node's UID once registered (the mirror pods' owner)."""

    def __init__(self, client, pods, node_name, node_uid=lambda: None):
        self.client, self.pods, self.node_name, self.node_uid = client, pods, node_name, node_uid

    def mirror_of(self, pod):
        """The static pod's mirror pod, or None."""
        m = pod["metadata"]
        mirror = self.pods.get(f"{m.get('namespace', 'default')}/{m['name']}")
        return mirror if mirror and manifest.is_mirror(mirror) else None

    def involved(self, pod):
        """What an event is about: for a static pod, its mirror pod."""
        mirror = self.mirror_of(pod) if manifest.is_static(pod) else None
        return {**(mirror or pod), "kind": "Pod", "apiVersion": "v1"}

    def sync_mirror_pod(self, pod):
        """Create the static pod's mirror pod; one from an older manifest, or one being
        deleted (``kubectl delete``), is deleted for good and made again. True if a mirror
        pod was created (it has no status yet)."""
        from kfs.client import ApiError
        mirror = self.mirror_of(pod)
        digest = pod["metadata"]["annotations"][manifest.CONFIG_HASH]
        try:
            if mirror and (mirror["metadata"].get("deletionTimestamp") or
                           meta.annotations(mirror).get(manifest.CONFIG_MIRROR) != digest):
                log.info("mirror pod %s is out of date or deleted: replacing it",
                         pod["metadata"]["name"])
                self.delete_mirror(mirror)
                mirror = None
            if not mirror:
                self.client.create(self.mirror_object(pod))
                log.info("created mirror pod %s", pod["metadata"]["name"])
                return True
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("mirror pod %s: %s", pod["metadata"]["name"], e)
        return False

    def mirror_object(self, pod):
        m = pod["metadata"]
        annotations = {**(m.get("annotations") or {}),
                       manifest.CONFIG_MIRROR: m["annotations"][manifest.CONFIG_HASH]}
        node_uid = self.node_uid()
        owner = [{"apiVersion": "v1", "kind": "Node", "name": self.node_name,
                  "uid": node_uid, "controller": True}] if node_uid else []
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": m["name"], "namespace": m.get("namespace", "default"),
            "labels": m.get("labels") or {}, "annotations": annotations,
            "ownerReferences": owner}, "spec": copy.deepcopy(pod["spec"])}

    def cleanup(self, desired):
        """Delete mirror pods whose static pod is gone (HandlePodCleanups)."""
        static = {manifest.full_name(p) for p in desired.values() if manifest.is_static(p)}
        for mirror in [p for p in self.pods.list() if manifest.is_mirror(p)]:
            if manifest.full_name(mirror) not in static:
                log.info("deleting orphaned mirror pod %s", mirror["metadata"]["name"])
                self.delete_mirror(mirror)

    def delete_mirror(self, mirror):
        """A mirror pod goes at once (grace period 0): nothing runs behind it to stop."""
        from kfs.client import ApiError
        try:
            self.client.delete("pods", mirror["metadata"]["name"], mirror["metadata"]["namespace"],
                               grace_period_seconds=0, uid=mirror["metadata"]["uid"])
        except ApiError as e:
            if e.code not in (404, 409):
                log.warning("could not delete mirror pod %s: %s", mirror["metadata"]["name"], e)
