"""Content negotiation: which format a request body is in, and which the client wants back.

Bodies come as JSON (the Python client sends POSTs with no Content-Type at all, which
means JSON) or YAML; patches as one of four patch types. Responses are JSON, or YAML
when asked, or a ``meta.k8s.io/v1`` **Table** when the Accept header says
``application/json;as=Table;v=v1;g=meta.k8s.io``: that is how ``kubectl get`` receives
ready-made columns (NAME, READY, STATUS, RESTARTS, AGE ...) for any kind, instead of
knowing every kind's columns itself. Protobuf is never answered: clients that ask for
it also accept JSON.

Mirrors ``apiserver/pkg/endpoints/handlers/negotiation`` and the Table conversion in
``handlers/response.go`` (``transformObject``, ``asTable``).

What real Kubernetes does differently: it speaks protobuf and CBOR too, and serves
``PartialObjectMetadata(List)`` for clients (the garbage collector) that ask for
metadata only.
"""
import json

import yaml

from kfs.apiserver import errors, protobuf, tables

MAX_BODY = 3 << 20  # upstream's limit on a request body: 3 MiB
JSON_TYPES = ("application/json", "*/*", "application/*", "")
YAML_TYPE = "application/yaml"
TABLE_VERSIONS = ("v1", "v1beta1")
ACCEPTED = ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"]

def media_types(header):
    """Parse an Accept header: [(type, {param: value})] in order."""
    out = []
    for part in (header or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        params = {}
        for f in fields[1:]:
            k, _, v = f.partition("=")
            params[k.strip().lower()] = v.strip()
        out.append((fields[0].lower(), params))
    return out


def wants(header):
    """"table", "json" or "yaml": what to answer for this Accept header (406 if none)."""
    types = media_types(header)
    if not header or not header.strip():
        return "json"
    for mtype, params in types:
        if params.get("as") == "Table":
            if (mtype == "application/json" and params.get("g") == "meta.k8s.io"
                    and params.get("v") in TABLE_VERSIONS):
                return "table"
            continue
        if params.get("as"):
            continue  # PartialObjectMetadata and other transformations: not served
        if mtype in JSON_TYPES:
            return "json"
        if mtype == YAML_TYPE:
            return "yaml"
    raise errors.not_acceptable(["application/json", "application/yaml",
                                 "application/json;as=Table;v=v1;g=meta.k8s.io"])


def decode_body(data, content_type):
    """A request body (POST/PUT) as a Python object: JSON, or YAML (415 for others)."""
    mtype = (content_type or "").split(";")[0].strip().lower()
    if len(data) > MAX_BODY:
        raise errors.too_large(MAX_BODY)
    if mtype in ("", "application/json", "*/*"):
        try:
            return json.loads(data or b"null")
        except (ValueError, UnicodeDecodeError) as e:
            raise errors.bad_request(f"couldn't get version/kind; json parse error: {e}") from None
    if mtype in ("application/yaml", "application/x-yaml", "text/yaml"):
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise errors.bad_request(f"error converting YAML to JSON: {e}") from None
    if mtype == protobuf.CONTENT_TYPE:  # kubectl auth can-i sends its review so
        try:
            return protobuf.decode_object(data)
        except protobuf.ProtobufError as e:
            raise errors.unsupported_media_type(mtype, ACCEPTED) if "not supported" in str(e) \
                else errors.bad_request(f"protobuf: {e}") from None
    raise errors.unsupported_media_type(mtype, ACCEPTED)


def encode(obj, fmt):
    """(body bytes, content type)."""
    if fmt == "yaml":
        return yaml.safe_dump(obj, sort_keys=False).encode(), "application/yaml"
    return json.dumps(obj, separators=(",", ":")).encode(), "application/json"


# -- Tables --------------------------------------------------------------------------------

def table(kind, objects, list_meta=None, include_object="Metadata"):
    """A meta.k8s.io/v1 Table of `objects` with the columns kubectl shows for the `kind`
    (``kfs.apiserver.tables``); `include_object` is the query's includeObject."""
    if include_object not in ("None", "Metadata", "Object"):
        raise errors.bad_request(f'includeObject: Unsupported value: "{include_object}"')
    return tables.table(kind, objects, include_object=include_object, list_metadata=list_meta)
