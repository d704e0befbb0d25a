"""``/openapi/v2``: the API's schema document, which ``kubectl apply`` insists on fetching.

kubectl (``--validate=strict``, its default) downloads the OpenAPI v2 document before it
sends an object, and only in protobuf form (gnostic's ``openapi_v2.Document``). It first
tries ``/openapi/v3``, where a 404 is fine. kfs serves a document with no definitions:
kubectl then validates nothing on its side and sends ``fieldValidation=Strict``, and the
API server itself rejects unknown fields (``kfs.apiserver.schema``).

The protobuf is written by hand (``kfs.apiserver.protobuf``).

Mirrors ``k8s.io/kube-openapi/pkg/handler`` (the protobuf form of the spec) and
``github.com/google/gnostic-models/openapiv2/OpenAPIv2.proto``.

What real Kubernetes does differently: the document holds a definition per type (what
``kubectl explain`` prints), generated from the Go types, with the strategic-merge-patch
extensions; ``/openapi/v3`` serves one document per group version.
"""
from kfs import versions
from kfs.apiserver.protobuf import bytes_field, string_field

CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def document():
    """``Document{swagger: "2.0", info: Info{title, version}}`` in protobuf."""
    info = string_field(1, "Kubernetes") + string_field(2, versions.KUBERNETES_GIT_VERSION)
    return string_field(1, "2.0") + bytes_field(2, info)


def document_json():
    """The same document as JSON, for clients that ask ``Accept: application/json``."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes",
                                       "version": versions.KUBERNETES_GIT_VERSION},
            "paths": {}, "definitions": {}}
