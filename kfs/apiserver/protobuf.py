"""Just enough protobuf: the OpenAPI document kubectl wants, the objects kubectl sends.

kubectl speaks protobuf in two places. ``kubectl apply`` reads ``/openapi/v2`` only as
protobuf, and the commands built on its typed clients (``kubectl create namespace``,
``create deployment``, ``create service``, ``create rolebinding``, ``auth can-i`` ...) POST
their objects as protobuf (they accept a JSON answer, which is all kfs sends). Protobuf's wire format is small: a message
is a sequence of fields, each a key ``(field number << 3) | wire type`` followed by a
varint (type 0), 8 bytes (1), a length-prefixed byte string (2: strings, bytes and
embedded messages) or 4 bytes (5). Kubernetes wraps its objects in an envelope: the magic
``k8s\\0`` then a ``runtime.Unknown`` message {typeMeta {apiVersion, kind}, raw}.

Decoding needs each message's field numbers: ``protobuf_schema.json`` has them, read out
of the descriptors the real kubectl carries compiled in. Go leaves unset optional strings
and bools out of JSON, but writes them ("" and false) in protobuf; the decoder drops them.

Mirrors ``apimachinery/pkg/runtime/serializer/protobuf`` (the envelope), the
``generated.proto`` files of ``k8s.io/api`` and gnostic's ``openapi_v2``.

What real Kubernetes does differently: every type has generated protobuf marshalling,
and protobuf is the default between the components (faster and smaller than JSON).
"""

import base64
import json
import struct
from datetime import datetime, timezone
from pathlib import Path

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    pass


# -- writing --------------------------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def bytes_field(number, data):
    """A length-delimited field (wire type 2): strings, bytes, embedded messages."""
    return varint(number << 3 | 2) + varint(len(data)) + data


def string_field(number, text):
    return bytes_field(number, text.encode())


# -- the OpenAPI v2 document kubectl reads: gnostic's openapi_v2.Document ----------------------
# Field numbers of OpenAPIv2.proto: Document {swagger 1, info 2, paths 8, definitions 9},
# Info {title 1, version 2}, Definitions and Properties {repeated NamedSchema 1},
# NamedSchema {name 1, value 2}, Schema {_ref 1, format 2, description 4, required 19,
# additional_properties 21 (AdditionalPropertiesItem {schema 1}), type 22 (TypeItem
# {repeated value 1}), items 23 (ItemsItem {repeated schema 1}), properties 25,
# vendor_extension 31 (NamedAny {name 1, value 2: Any {yaml 2}})}.

def openapi_v2(doc):
    """A Swagger 2.0 document (a dict: swagger, info, definitions) as gnostic's protobuf."""
    info = string_field(1, doc["info"]["title"]) + string_field(2, doc["info"]["version"])
    definitions = b"".join(bytes_field(1, _named_schema(name, s))
                           for name, s in (doc.get("definitions") or {}).items())
    return (string_field(1, doc["swagger"]) + bytes_field(2, info) + bytes_field(8, b"")
            + bytes_field(9, definitions))


def _named_schema(name, s):
    return string_field(1, name) + bytes_field(2, openapi_schema(s))


def openapi_schema(s):
    """One schema (``$ref``, format, description, required, additionalProperties, type,
    items, properties and the ``x-`` extensions, whose value gnostic keeps as YAML: JSON is
    YAML too)."""
    out = b""
    for key, number in (("$ref", 1), ("format", 2), ("description", 4)):
        if s.get(key):
            out += string_field(number, s[key])
    out += b"".join(string_field(19, r) for r in s.get("required") or ())
    if isinstance(s.get("additionalProperties"), dict):
        out += bytes_field(21, bytes_field(1, openapi_schema(s["additionalProperties"])))
    if s.get("type"):
        out += bytes_field(22, string_field(1, s["type"]))
    if "items" in s:
        out += bytes_field(23, bytes_field(1, openapi_schema(s["items"])))
    if "properties" in s:  # even empty: a kind has properties, a map has none
        out += bytes_field(25, b"".join(bytes_field(1, _named_schema(k, v))
                                        for k, v in s["properties"].items()))
    for key, value in s.items():
        if key.startswith("x-"):
            out += bytes_field(31, string_field(1, key) + bytes_field(
                2, string_field(2, json.dumps(value, separators=(",", ":")))))
    return out


# -- reading --------------------------------------------------------------------------------

def _read_varint(data, pos):
    result = shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[pos]
        result |= (byte & 0x7F) << shift
        pos += 1
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data):
    """{field number: [values]}: ints for varints, bytes for everything else."""
    out, pos = {}, 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _read_varint(data, pos)
        elif wire == 2:
            length, pos = _read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
            if pos > len(data):
                raise ProtobufError("truncated field")
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


# -- Kubernetes objects ------------------------------------------------------------------------
# protobuf_schema.json: for every message reachable from the kinds kfs serves, its fields by
# number: [json name, type code, message type or map value type]; type codes: s string,
# b bool, i integer, d double, f float, y bytes, m message, M map<string, ...>, and a
# leading "*" for repeated fields. Generated from the descriptors compiled into the real
# kubectl (``python -m kfs.apiserver.kinds /usr/bin/kubectl``).

SCHEMA_FILE = Path(__file__).with_name("protobuf_schema.json")
_schema = None
META = "k8s.io.apimachinery.pkg.apis.meta.v1"
META_KINDS = ("DeleteOptions",)   # sent by clients, but not a kind of any API group


def message_name(api_version, kind):
    """The protobuf message of a kind: ``apps/v1`` Deployment is
    ``k8s.io.api.apps.v1.Deployment``, ``v1`` Pod ``k8s.io.api.core.v1.Pod`` (the package is
    the group's first label; the core group's is "core")."""
    group, _, version = api_version.rpartition("/")
    if kind in META_KINDS:
        return f"{META}.{kind}"
    return f"k8s.io.api.{group.split('.')[0] or 'core'}.{version}.{kind}"


TIME_TYPES = ("k8s.io.apimachinery.pkg.apis.meta.v1.Time",
              "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime")
QUANTITY = "k8s.io.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
# int fields Go does not write to JSON when 0 (not pointers), but protobuf always carries
ZERO_IS_UNSET = {"generation", "hostPort", "minReadySeconds", "nodePort",
                 "healthCheckNodePort", "observedGeneration"}
RAW = ("k8s.io.apimachinery.pkg.runtime.RawExtension",
       "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1")
# named []string types: a message of one repeated string in protobuf, a list in JSON
STRING_LISTS = ("k8s.io.api.certificates.v1.ExtraValue",)


def schema():
    global _schema
    if _schema is None:
        _schema = json.loads(SCHEMA_FILE.read_text())
    return _schema


def _signed(n):
    return n - (1 << 64) if n >= 1 << 63 else n


def _scalar(code, value):
    if code == "s":
        return value.decode()
    if code == "b":
        return bool(value)
    if code == "i":
        return _signed(value)
    if code == "y":
        return base64.b64encode(value).decode()
    if code == "d":
        return struct.unpack("<d", value)[0]
    if code == "f":
        return struct.unpack("<f", value)[0]
    raise ProtobufError(f"unknown scalar type {code}")


def _packed(data):
    out, pos = [], 0
    while pos < len(data):
        value, pos = _read_varint(data, pos)
        out.append(value)
    return out


def _special(type_name, data):
    f = fields(data)
    if type_name in TIME_TYPES:
        seconds = _signed(f.get(1, [0])[-1])
        return (datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                if seconds else None)
    if type_name == QUANTITY:
        return f.get(1, [b""])[-1].decode()
    if type_name == INT_OR_STRING:
        return f.get(3, [b""])[-1].decode() if f.get(1, [0])[-1] == 1 else \
            _signed(f.get(2, [0])[-1])
    raw = f.get(1, [b""])[-1]
    return json.loads(raw) if raw else None


def decode_message(type_name, data):
    """A protobuf message as the JSON Go would write: unset scalars ("" and false) left out."""
    if type_name in TIME_TYPES + (QUANTITY, INT_OR_STRING) + RAW:
        return _special(type_name, data)
    if type_name in STRING_LISTS:
        return [v.decode() for v in fields(data).get(1, [])]
    spec = schema().get(type_name)
    if spec is None:
        raise ProtobufError(f"no protobuf schema for {type_name}")
    out = {}
    for number, values in fields(data).items():
        field = spec.get(str(number))
        if field is None:
            continue  # a field newer than our schema: dropped, as JSON's unknown fields
        name, code, inner = (field + [None])[:3]
        repeated = code.startswith("*")
        code = code.lstrip("*")
        if code == "M":
            out[name] = {}
            for entry in values:
                e = fields(entry)
                key = e.get(1, [b""])[-1].decode()
                val = e.get(2, [b""])[-1]
                out[name][key] = (val.decode() if inner == "s" else _scalar("y", val)
                                  if inner == "y" else decode_message(inner, val))
            continue
        if code == "m":
            items = [decode_message(inner, v) for v in values]
        elif code in ("i", "b") and values and isinstance(values[0], bytes):
            items = [_scalar(code, v) for chunk in values for v in _packed(chunk)]
        else:
            items = [_scalar(code, v) for v in values]
        if repeated:
            out[name] = items
        elif items[-1] in (None, "", False) or (items[-1] == 0 and name in ZERO_IS_UNSET):
            continue
        else:
            out[name] = items[-1]
    return out


def decode_object(data):
    """A Kubernetes object in protobuf (``k8s\\0`` + runtime.Unknown) as a JSON dict."""
    if not data.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf object (no k8s magic)")
    unknown = fields(data[len(MAGIC):])
    type_meta = fields(unknown.get(1, [b""])[-1])
    api_version = type_meta.get(1, [b""])[-1].decode()
    kind = type_meta.get(2, [b""])[-1].decode()
    root = message_name(api_version, kind)
    if root not in schema():
        raise ProtobufError(f"protobuf is not supported for {kind}")
    obj = decode_message(root, unknown.get(2, [b""])[-1])
    return {"apiVersion": api_version, "kind": kind, **obj}


# -- regenerating protobuf_schema.json from the real kubectl -----------------------------------

_CODES = {9: "s", 8: "b", 1: "d", 2: "f", 12: "y", 11: "m",
          **{t: "i" for t in (3, 4, 5, 6, 7, 13, 14, 15, 16, 17, 18)}}


def descriptors(binary):
    """The FileDescriptorProtos a Go program compiled in (gzipped, found by their magic)."""
    import re
    import zlib
    from google.protobuf import descriptor_pb2
    data, found = Path(binary).read_bytes(), {}
    for m in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00", data):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + (4 << 20)])
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
        except Exception:  # not a descriptor: gzip data of something else
            continue
        if fd.name.endswith(".proto") and fd.message_type:
            found[fd.name] = fd
    return found


def generate(binary, roots):
    """{message: {number: [json name, type code, ...]}} for every message reachable from
    the `roots` (message names), from the descriptors compiled into `binary` (kubectl)."""
    messages = {}
    for fd in descriptors(binary).values():
        for mt in fd.message_type:
            messages[f"{fd.package}.{mt.name}"] = mt
    out, todo = {}, list(roots)
    while todo:
        name = todo.pop()
        if name in out or name in TIME_TYPES + (QUANTITY, INT_OR_STRING) + RAW:
            continue
        mt, spec = messages[name], {}
        entries = {f"{name}.{n.name}": n for n in mt.nested_type if n.options.map_entry}
        for f in mt.field:
            type_name = f.type_name.lstrip(".")
            code = ("*" if f.label == 3 else "") + _CODES[f.type]
            if type_name in entries:
                value = entries[type_name].field[1]
                inner = {9: "s", 12: "y"}.get(value.type) or value.type_name.lstrip(".")
                spec[str(f.number)] = [f.name, "M", inner]
                type_name = inner if inner not in ("s", "y") else ""
            elif f.type == 11:
                spec[str(f.number)] = [f.name, code, type_name]
            else:
                spec[str(f.number)] = [f.name, code]
                type_name = ""
            if type_name:
                todo.append(type_name)
        out[name] = spec
    return dict(sorted(out.items()))
