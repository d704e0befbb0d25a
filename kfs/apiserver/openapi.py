"""``/openapi/v2``: the API's schema document, which ``kubectl apply`` insists on fetching.

kubectl (``--validate=strict``, its default) downloads the OpenAPI v2 document before it
sends an object, and only in protobuf form (gnostic's ``openapi_v2.Document``). It first
tries ``/openapi/v3``, where a 404 is fine. kfs serves a document with no definitions:
kubectl then validates nothing on its side and sends ``fieldValidation=Strict``, and the
API server itself rejects unknown fields (``kfs.apiserver.schema``).

Protobuf is simple enough to write by hand for this: each field is a key (field number
and wire type) followed by its value; strings and nested messages are length-prefixed.

Mirrors ``k8s.io/kube-openapi/pkg/handler`` (the protobuf form of the spec) and
``github.com/google/gnostic-models/openapiv2/OpenAPIv2.proto``.

What real Kubernetes does differently: the document holds a definition per type (what
``kubectl explain`` prints), generated from the Go types, with the strategic-merge-patch
extensions; ``/openapi/v3`` serves one document per group version.
"""
from kfs import versions

CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def _varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bytes_field(number, data):
    """A length-delimited field (wire type 2): strings, bytes, embedded messages."""
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _string(number, text):
    return _bytes_field(number, text.encode())


def document():
    """``Document{swagger: "2.0", info: Info{title, version}}`` in protobuf."""
    info = _string(1, "Kubernetes") + _string(2, versions.KUBERNETES_GIT_VERSION)
    return _string(1, "2.0") + _bytes_field(2, info)


def document_json():
    """The same document as JSON, for clients that ask ``Accept: application/json``."""
    return {"swagger": "2.0", "info": {"title": "Kubernetes",
                                       "version": versions.KUBERNETES_GIT_VERSION},
            "paths": {}, "definitions": {}}
