"""``/openapi/v2`` and ``/openapi/v3``: the schema of every kind served, which kubectl reads.

Three kubectl commands depend on it:

- ``kubectl explain deployment.spec.strategy`` prints a type's fields with their types and
  descriptions. kubectl 1.27 and later read ``/openapi/v3`` (a discovery document naming
  one document per group version, ``/openapi/v3/apis/apps/v1?hash=...``) and find the kind
  through a path's ``x-kubernetes-group-version-kind``; older ones (Debian's 1.20) read
  ``/openapi/v2``, in protobuf only (gnostic's ``openapi_v2.Document``, written by
  ``kfs.apiserver.protobuf``);
- ``kubectl apply`` validates each object against the v2 definitions before sending it
  (``--validate=strict``): unknown fields, missing required ones, wrong types. Newer
  kubectls skip that when the v3 document says the PATCH of that kind takes
  ``fieldValidation``; kfs publishes no PATCH operations, so they all validate, then
  send ``fieldValidation=Strict`` anyway, which the API server also honours;
- ``kubectl apply`` computes its strategic merge patch from the v2 definitions'
  ``x-kubernetes-patch-strategy`` and ``-merge-key``: kfs writes them from the same table
  the server merges by (``kfs.apiserver.patch``), so client and server agree.

The definitions come from the schema data decoding uses (``schema.json``: each type's
fields and their types) and ``openapi_docs.json``: each type's upstream name
(``io.k8s.api.apps.v1.Deployment``, found by walking the official Python client's models
beside the protobuf messages of the real kubectl), its description and its fields' (the
``description`` of the models' pydantic fields; a field that holds another type has none
there, so it gets that type's description), its required fields, and which fields are
Quantities, IntOrStrings or Times. ``python -m kfs.apiserver.kinds`` regenerates both.

Mirrors ``k8s.io/kube-openapi/pkg/handler`` (v2) and ``handler3`` (v3), and the
definitions ``k8s.io/kube-openapi/pkg/builder`` makes from the Go types.

What real Kubernetes does differently: the definitions are generated from the Go types'
comments (so a field that holds a struct has its own description), with enums, defaults,
``x-kubernetes-list-type`` and the operations of every path; the documents are cached by
ETag, and v3 is served as protobuf too.
"""
import copy
import hashlib
import json
import re
from functools import lru_cache
from pathlib import Path

from aiohttp import web

from kfs import resources, versions
from kfs.apiserver import errors, kinds, patch, protobuf, schema

DOCS_FILE = Path(__file__).with_name("openapi_docs.json")
CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
V2_REF, V3_REF = "#/definitions/", "#/components/schemas/"

META = "io.k8s.apimachinery.pkg.apis.meta.v1"
TIME, MICRO_TIME, FIELDS_V1 = f"{META}.Time", f"{META}.MicroTime", f"{META}.FieldsV1"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# The types Go writes as JSON scalars (or free-form objects): definitions of their own.
SCALARS = {
    TIME: {"type": "string", "format": "date-time",
           "description": "A point in time, written as RFC 3339 to the second."},
    MICRO_TIME: {"type": "string", "format": "date-time",
                 "description": "A point in time, written as RFC 3339 to the microsecond."},
    QUANTITY: {"type": "string",
               "description": "An amount of a resource: a number with an optional suffix, "
                              "binary (Ki, Mi, Gi ...), decimal (k, M, G ...) or milli (m): "
                              "\"500m\" cpu, \"128Mi\" memory."},
    INT_OR_STRING: {"type": "string", "format": "int-or-string",
                    "description": "An integer or a string (a port's number or its name; "
                                   "a count or a percentage)."},
    RAW_EXTENSION: {"type": "object", "description": "An embedded object of any kind."},
    FIELDS_V1: {"type": "object", "description": "A set of fields, as a trie in JSON "
                                                 "(managedFields)."},
}
PRIMITIVES = {"str": {"type": "string"}, "int": {"type": "integer"},
              "bool": {"type": "boolean"}, "float": {"type": "number", "format": "double"}}
TIME_TYPES = ("datetime", "date")


# -- the definitions ----------------------------------------------------------------------------

@lru_cache(maxsize=None)
def docs():
    return json.loads(DOCS_FILE.read_text()) if DOCS_FILE.exists() else {}


def upstream_name(type_):
    """``io.k8s.api.apps.v1.DeploymentSpec`` for the model ``V1DeploymentSpec``."""
    known = docs().get(type_, {}).get("name")
    return known or guess_name(type_, "io.k8s.api.core.v1")


def guess_name(type_, package):
    """The upstream name of a model the walk did not reach: by the group its name carries
    (``DiscoveryV1EndpointPort``), else in `package` (``io.k8s.api.apps.v1``, the referring
    type's), in the model's version."""
    m = re.fullmatch(r"([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)(\w+)", type_)
    if not m:
        return f"{package}.{type_}"
    group, version, kind = m.groups()
    if group:
        return f"io.k8s.api.{group.lower()}.{version.lower()}.{kind}"
    return f"{package.rsplit('.', 1)[0]}.{version.lower()}.{kind}"


def _gvks():
    """{schema type: [x-kubernetes-group-version-kind]} of every kind with rules."""
    out = {}
    for api_version, kind in kinds.with_rules():
        group, _, version = api_version.rpartition("/")
        out.setdefault(kinds.lookup(api_version, kind).schema_type, []).append(
            {"group": group, "kind": kind, "version": version})
    return out


def _property(type_, field, special=None):
    """The schema of a field of type `type_` (schema.json's notation), v2 refs."""
    m = re.fullmatch(r"List\[(.+)\]", type_)
    if m:
        return {"type": "array", "items": _property(m[1], field, special)}
    m = re.fullmatch(r"Dict\[str, (.+)\]", type_)
    if m:
        if not special and m[1] == "str" and field in schema.QUANTITY_FIELDS:
            special = QUANTITY
        return {"type": "object", "additionalProperties": _property(m[1], field, special)}
    if special:
        return {"$ref": V2_REF + special}
    if type_ in TIME_TYPES:
        return {"$ref": V2_REF + TIME}
    if type_ in PRIMITIVES:
        return dict(PRIMITIVES[type_])
    if type_ in schema.schema():
        return {"$ref": V2_REF + upstream_name(type_)}
    return {}  # "object": anything


def _patch_extensions(name, field):
    """x-kubernetes-patch-strategy/-merge-key, as kfs.apiserver.patch merges that field."""
    f = patch.field(name.rsplit(".", 1)[-1], field)
    strategies = (["merge"] if f.merge else []) + (["retainKeys"] if f.retain_keys else [])
    out = {}
    if strategies:
        out["x-kubernetes-patch-strategy"] = ",".join(strategies)
    if f.key:
        out["x-kubernetes-patch-merge-key"] = f.key
    return out


def _definition(type_, fields, gvks):
    d = docs().get(type_, {})
    name = upstream_name(type_)
    properties = {}
    for field, t in fields.items():
        prop = _property(t, field, d.get("refs", {}).get(field))
        description = d.get("fields", {}).get(field) or _referred_description(t)
        if description:
            prop["description"] = description
        properties[field] = {**prop, **_patch_extensions(name, field)}
    out = {"description": d.get("description", ""), "type": "object",
           "properties": properties}
    if d.get("required"):
        out["required"] = list(d["required"])
    if type_ in gvks:
        out["x-kubernetes-group-version-kind"] = gvks[type_]
    return name, out


def _referred_description(type_):
    inner = re.sub(r"^(List\[|Dict\[str, )(.*)\]$", r"\2", type_)
    return docs().get(inner, {}).get("description", "")


@lru_cache(maxsize=None)
def definitions():
    """{upstream name: OpenAPI v2 schema} for every type in schema.json, and the scalars."""
    gvks = _gvks()
    out = copy.deepcopy(SCALARS)
    for type_, fields in schema.schema().items():
        name, definition = _definition(type_, fields, gvks)
        out[name] = definition
    return dict(sorted(out.items()))


def referred(names, defs):
    """`names` and every definition their refs lead to."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        todo += [r[len(V2_REF):] for r in refs_in(defs[name])]
    return sorted(seen)


def refs_in(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from refs_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs_in(v)


# -- v2: one document -----------------------------------------------------------------------

def _info():
    return {"title": "Kubernetes", "version": versions.KUBERNETES_GIT_VERSION}


def document_json():
    """The Swagger 2.0 document: every definition, no paths."""
    return {"swagger": "2.0", "info": _info(), "paths": {}, "definitions": definitions()}


@lru_cache(maxsize=None)
def document():
    """The same in protobuf, the only form kubectl reads."""
    return protobuf.openapi_v2(document_json())


# -- v3: a document per group version ----------------------------------------------------------

def v3_name(group, version):
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _collection_path(r):
    base = f"/{v3_name(r.group, r.version)}"
    return f"{base}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else \
        f"{base}/{r.plural}"


def _to_v3(node):
    if isinstance(node, dict):
        return {k: (V3_REF + v[len(V2_REF):] if k == "$ref" else _to_v3(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_to_v3(v) for v in node]
    return node


@lru_cache(maxsize=None)
def v3_document(group, version):
    """The OpenAPI 3.0 document of one group version: a path per resource whose operation
    names the kind (how ``kubectl explain`` finds it), and the schemas it refers to."""
    served = [r for r in resources.RESOURCES if (r.group, r.version) == (group, version)]
    if not served:
        return None
    defs, paths, roots = definitions(), {}, []
    for r in served:
        gvk = {"group": r.group, "kind": r.kind, "version": r.version}
        verb = "get" if "get" in r.verbs or "list" in r.verbs else "post"
        paths[_collection_path(r)] = {verb: {
            "operationId": f"{verb}{r.kind}", "x-kubernetes-group-version-kind": gvk,
            "responses": {"200": {"description": "OK"}}}}
        for kind, sub_group, sub_version in [(r.kind, r.group, r.version),
                                             *r.subresources.values()]:
            api_version = f"{sub_group}/{sub_version}" if sub_group else sub_version
            roots.append(upstream_name(kinds.lookup(api_version or r.api_version,
                                                    kind or r.kind).schema_type))
    schemas = {n: _to_v3(defs[n]) for n in referred(roots, defs)}
    return {"openapi": "3.0.0", "info": _info(), "paths": paths,
            "components": {"schemas": schemas}}


@lru_cache(maxsize=None)
def _v3_body(group, version):
    return json.dumps(v3_document(group, version), separators=(",", ":")).encode()


def v3_discovery():
    """``/openapi/v3``: where each group version's document is, with its content's hash."""
    paths = {}
    for r in resources.RESOURCES:
        name = v3_name(r.group, r.version)
        if name not in paths:
            digest = hashlib.sha512(_v3_body(r.group, r.version)).hexdigest().upper()
            paths[name] = {"serverRelativeURL": f"/openapi/v3/{name}?hash={digest}"}
    return {"paths": paths}


# -- the handler ---------------------------------------------------------------------------------

def respond(path, accept):
    """The answer to ``GET /openapi/...`` (a 404 Status for what is not there)."""
    if path == "/openapi/v2":
        if "protobuf" in accept:
            return web.Response(body=document(), content_type=None,
                                headers={"Content-Type": CONTENT_TYPE})
        return web.json_response(document_json())
    if path == "/openapi/v3":
        return web.json_response(v3_discovery())
    parts = path.split("/")[3:]  # /openapi/v3/api/v1, /openapi/v3/apis/apps/v1
    if parts[:1] == ["api"] and len(parts) == 2:
        group, version = "", parts[1]
    elif parts[:1] == ["apis"] and len(parts) == 3:
        group, version = parts[1], parts[2]
    else:
        group = version = None
    if group is None or v3_document(group, version) is None:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested "
                                 "resource", {})
    return web.Response(body=_v3_body(group, version), content_type="application/json")


# -- regenerating openapi_docs.json from the official client's models ---------------------------

def generate_docs(types, pb_schema, roots):
    """{model: {name, description, required, fields, refs}} for the `types` (schema.json's
    models). `roots` pairs a kind's model with its protobuf message (``V1Deployment``,
    ``k8s.io.api.apps.v1.Deployment``): walking both side by side gives every reachable
    model its upstream name (``k8s.io.api.apps.v1`` is ``io.k8s.api.apps.v1``) and tells
    which of its fields are Quantities, IntOrStrings, Times."""
    import kubernetes.client as models
    names, refs = _walk(types, pb_schema, roots)
    out = {}
    for type_ in types:
        model = getattr(models, type_)
        doc = (model.__doc__ or "").split("Attributes:")[0]
        fields = {model.attribute_map[a]: f.description for a, f in model.model_fields.items()
                  if f.description}
        required = sorted(model.attribute_map[a] for a, f in model.model_fields.items()
                          if f.is_required())
        entry = {"name": names.get(type_) or guess_name(type_, "io.k8s.api.core.v1"),
                 "description": " ".join(doc.split()), "required": required,
                 "fields": dict(sorted(fields.items()))}
        if refs.get(type_):
            entry["refs"] = dict(sorted(refs[type_].items()))
        out[type_] = entry
    return dict(sorted(out.items()))


SPECIAL_MESSAGES = {"k8s.io.apimachinery.pkg.apis.meta.v1.Time": TIME,
                    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": MICRO_TIME,
                    "k8s.io.apimachinery.pkg.api.resource.Quantity": QUANTITY,
                    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": INT_OR_STRING,
                    "k8s.io.apimachinery.pkg.runtime.RawExtension": RAW_EXTENSION,
                    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": FIELDS_V1}


def _walk(types, pb_schema, roots):
    """({model: upstream name}, {model: {field: special scalar}}) by the side-by-side walk;
    models the protobuf does not have (newer than that kubectl) are named by `guess_name`
    after the model that refers to them."""
    names, refs, todo = {}, {}, list(roots)
    while todo:
        model, message = todo.pop()
        if model in names or model not in types:
            continue
        names[model] = "io.k8s." + message.removeprefix("k8s.io.")  # Go's path, reversed
        by_json = {f[0]: f for f in pb_schema.get(message, {}).values()}
        for field, t in types[model].items():
            inner = re.sub(r"^(List\[|Dict\[str, )(.*)\]$", r"\2", t)
            entry = by_json.get(field) or []  # [json name, type code, message type]
            target = entry[2] if len(entry) > 2 else None
            if target in SPECIAL_MESSAGES:
                refs.setdefault(model, {})[field] = SPECIAL_MESSAGES[target]
            elif target and inner in types:
                todo.append((inner, target))
    pending = [(m, n) for m, n in names.items()]
    while pending:  # what the walk did not reach: in the package of who refers to it
        model, name = pending.pop()
        for t in types[model].values():
            inner = re.sub(r"^(List\[|Dict\[str, )(.*)\]$", r"\2", t)
            if inner in types and inner not in names:
                names[inner] = guess_name(inner, name.rsplit(".", 1)[0])
                pending.append((inner, names[inner]))
    return names, refs
