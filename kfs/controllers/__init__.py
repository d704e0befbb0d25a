"""The controller manager: one process running the loops that keep the cluster true.

Each controller is a ``reconcile(key)`` over informer caches, in the style of upstream's
``sample-controller``: event handlers only put keys on a work queue; a worker takes a key,
compares what is wanted (the Deployment's spec, the Service's selector, the Node's lease)
with what is (the caches), and makes one step towards it through the API server.

- ``replicaset``: keeps a ReplicaSet's number of pods;
- ``deployment`` (+ ``deployment_rollout``: the steps of one sync, ``deployment_util``: the
  arithmetic): rolls a Deployment out through ReplicaSets;
- ``endpoints``: each Service's ready pod addresses;
- ``endpointslice``: the same addresses as EndpointSlices (what kubectl describe and
  kube-proxy read);
- ``garbagecollector``: deletes what lost its owner, honours foreground and orphan deletion;
- ``nodelifecycle``: notices dead nodes, taints them, evicts their pods;
- ``disruption``: how many pods each PodDisruptionBudget can spare, for evictions
  (``kubectl drain``) to read;
- ``manager``: the shared informers and the workers; ``main``: the ``kfs controller-manager``
  command (``kfs.lab.stages.controller_manager`` runs it on the lab's ``cp``);
- ``controller_utils``: expectations, adoption and release (and the re-read of an owner
  before it adopts), pod ranking, slow-start batches.

What real Kubernetes does differently: ``pkg/controller`` has some forty controllers, each
started by ``kube-controller-manager`` behind leader election; typed listers and indexers
replace our scans of the informer caches.
"""
