"""Bindings (``v1``): what the scheduler POSTs to ``pods/<name>/binding`` to put a pod on a
node. Not a resource of its own: the Pod kind (``kinds/pod.py``) writes it into the pod.
Its rules here are the decoding (schema) and validation of the body: the target is a
Node, named.

Mirrors pkg/apis/core/validation (ValidatePodBinding).

What real Kubernetes does differently: ``v1`` Bindings can also be created at
``/namespaces/<ns>/bindings``, the older form of the same request.
"""
from kfs.apiserver.kinds import Kind
from kfs.apiserver.validation import pods


class Binding(Kind):
    api_version, kind = "v1", "Binding"
    name_rule = None

    def validate(self, binding):
        return pods.validate_binding(binding)


KIND = Binding
