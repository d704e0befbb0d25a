"""Decoding a request body the way a typed decoder would: known fields, the right types.

The real API server decodes JSON into Go structs. Two things follow, which clients rely on:

- a field the type does not have is **dropped** (or, with ``?fieldValidation=Strict``,
  which kubectl sends, the request fails: 400 ``strict decoding error: unknown field
  "spec.replica"``; with ``Warn``, the default, a ``Warning`` header names it);
- a value of the wrong JSON type (``replicas: "three"``) cannot be decoded: 400 before any
  validation runs. ``null`` means "not set" and disappears.

The types come from ``schema.json``: for every type reachable from the kinds kfs serves,
its fields (JSON names) and their types, generated from the official Python client's
models (``python -m kfs.apiserver.kinds`` regenerates it) — the same OpenAPI the real
API server publishes.

Mirrors ``apimachinery/pkg/runtime/serializer/json`` (strict decoding) and the
unknown-field detection of ``apiserver/pkg/endpoints/handlers/rest.go``.

What real Kubernetes does differently: the types are Go structs, compiled in; CRDs get a
structural-schema pruner doing the same from their OpenAPI schema.
"""
import functools
import json
import re
from pathlib import Path

from kfs import meta

SCHEMA_FILE = Path(__file__).with_name("schema.json")
_schema = None

QUANTITY_FIELDS = {"limits", "requests", "capacity", "allocatable", "overhead", "hard", "used"}
_GO = {"str": "string", "int": "int64", "bool": "bool", "float": "float64",
       "datetime": "Time", "date": "Time"}
_PY = {"str": (str,), "datetime": (str,), "date": (str,), "bool": (bool,), "int": (int,),
       "float": (int, float)}
_JSON = {str: "string", int: "number", float: "number", bool: "bool", list: "array",
         dict: "object"}


class DecodeError(ValueError):
    """A value of the wrong type: answer 400."""


def schema():
    global _schema
    if _schema is None:
        _schema = json.loads(SCHEMA_FILE.read_text())
    return _schema


def root_type(api_version, kind):
    """The type a kind decodes into: ``V1Pod`` for v1 Pods (the official client's model
    names). A kind's module may name another (``CoreV1Event``)."""
    return (api_version or "").rsplit("/", 1)[-1].capitalize() + (kind or "")


def decode(obj, api_version, kind, root=None):
    """Clean `obj` in place as the typed decoder would; returns the unknown fields' paths.

    `root` is the type to decode into (default: `root_type`; one schema.json does not have:
    no decoding). Raises DecodeError for a value of the wrong type.
    """
    unknown = []
    root = root or root_type(api_version, kind)
    if root in schema():
        _walk(obj, root, "", unknown, kind)
    return unknown


@functools.lru_cache(maxsize=None)
def _shape(type_):
    """("list", item type), ("dict", value type) or (None, type_): a type string parsed
    once, not once per field of every request."""
    m = re.fullmatch(r"List\[(.+)\]", type_)
    if m:
        return "list", m[1]
    m = re.fullmatch(r"Dict\[str, (.+)\]", type_)
    if m:
        return "dict", m[1]
    return None, type_


def _walk(value, type_, path, unknown, kind):
    shape, inner = _shape(type_)
    if shape == "list":
        _expect(value, list, path, type_, kind)
        for i, item in enumerate(value):
            _walk(item, inner, f"{path}[{i}]", unknown, kind)
        value[:] = [v for v in value if v is not None]
        return
    if shape == "dict":
        _expect(value, dict, path, type_, kind)
        for k in [k for k, v in value.items() if v is None]:
            del value[k]
        field = path.rsplit(".", 1)[-1]
        inner = "quantity" if inner == "str" and field in QUANTITY_FIELDS else inner
        for k, v in value.items():
            _walk(v, inner, f"{path}[{k}]", unknown, kind)
        return
    if type_ == "object":
        return
    if type_ == "quantity":  # resource amounts: "500m", or a bare number
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            _fail(value, path, "Quantity", kind)
        try:
            meta.parse_quantity(value)
        except ValueError as e:
            raise DecodeError(str(e)) from None
        return
    if type_ in _GO:
        ok = _PY[type_]
        if not isinstance(value, ok) or (type_ in ("int", "float") and isinstance(value, bool)):
            _fail(value, path, _GO[type_], kind)
        return
    fields = schema().get(type_)
    if fields is None:
        return
    _expect(value, dict, path, type_, kind)
    for k in list(value):
        if value[k] is None:
            del value[k]
        elif k not in fields:
            unknown.append(f"{path}.{k}" if path else k)
            del value[k]
        else:
            _walk(value[k], fields[k], f"{path}.{k}" if path else k, unknown, kind)


def _expect(value, pytype, path, type_, kind):
    if not isinstance(value, pytype):
        go = "[]" + type_[5:-1] if type_.startswith("List[") else (
            "map[string]" + type_[10:-1] if type_.startswith("Dict[") else
            "struct " + type_)
        _fail(value, path, go, kind)


def _fail(value, path, go_type, kind):
    got = _JSON.get(type(value), "value")
    raise DecodeError(f'json: cannot unmarshal {got} into Go struct field {kind}.{path} '
                      f'of type {go_type}')


# -- regenerating schema.json from the official client's models ------------------------

def generate(roots):
    """{type: {jsonField: type}} for every type reachable from the `roots` (type names)."""
    import kubernetes.client as models
    out, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        model = getattr(models, name)
        fields = {model.attribute_map[attr]: t for attr, t in model.openapi_types.items()}
        out[name] = dict(sorted(fields.items()))
        for t in fields.values():
            inner = re.sub(r"^(List\[|Dict\[str, )(.*)\]$", r"\2", t)
            inner = re.sub(r"^(List\[|Dict\[str, )(.*)\]$", r"\2", inner)
            if hasattr(models, inner) and inner not in out:
                todo.append(inner)
    return dict(sorted(out.items()))
