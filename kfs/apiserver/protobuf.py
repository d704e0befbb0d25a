"""Just enough protobuf: the OpenAPI document kubectl wants, the reviews kubectl sends.

Two clients insist on protobuf. ``kubectl apply`` reads ``/openapi/v2`` only as protobuf,
and ``kubectl auth can-i`` POSTs its SelfSubjectAccessReview as protobuf (its typed
client prefers it; it accepts a JSON answer). Protobuf's wire format is small: a message
is a sequence of fields, each a key ``(field number << 3) | wire type`` followed by a
varint (type 0), 8 bytes (1), a length-prefixed byte string (2: strings, bytes and
embedded messages) or 4 bytes (5). Kubernetes wraps its objects in an envelope: the magic
``k8s\\0`` then a ``runtime.Unknown`` message {typeMeta {apiVersion, kind}, raw}.

Mirrors ``apimachinery/pkg/runtime/serializer/protobuf`` (the envelope), the generated
``generated.proto`` of ``k8s.io/api/authorization/v1`` and gnostic's ``openapi_v2``.

What real Kubernetes does differently: every type has generated protobuf marshalling,
and protobuf is the default between the components (faster and smaller than JSON).
"""

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


def _strings(msg, names):
    """The string fields of a message, by {number: json name}, as a dict."""
    f = fields(msg)
    return {name: f[n][-1].decode() for n, name in names.items() if n in f}


RESOURCE_ATTRIBUTES = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
                       6: "subresource", 7: "name"}
NON_RESOURCE_ATTRIBUTES = {1: "path", 2: "verb"}


def _review_spec(msg):
    f = fields(msg)
    spec = {}
    if 1 in f:
        spec["resourceAttributes"] = _strings(f[1][-1], RESOURCE_ATTRIBUTES)
    if 2 in f:
        spec["nonResourceAttributes"] = _strings(f[2][-1], NON_RESOURCE_ATTRIBUTES)
    if 3 in f:
        spec["user"] = f[3][-1].decode()
    if 4 in f:
        spec["groups"] = [g.decode() for g in f[4]]
    if 6 in f:
        spec["uid"] = f[6][-1].decode()
    return spec


def decode_object(data):
    """A protobuf-encoded SelfSubjectAccessReview or SubjectAccessReview as JSON."""
    if not data.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf object (no k8s magic)")
    unknown = fields(data[len(MAGIC):])
    type_meta = _strings(unknown.get(1, [b""])[-1], {1: "apiVersion", 2: "kind"})
    raw = fields(unknown.get(2, [b""])[-1])
    if type_meta.get("kind") not in ("SelfSubjectAccessReview", "SubjectAccessReview"):
        raise ProtobufError(f"protobuf is not supported for {type_meta.get('kind')}")
    obj = dict(type_meta)
    obj["metadata"] = _strings(raw[1][-1], {1: "name"}) if 1 in raw else {}
    obj["spec"] = _review_spec(raw[2][-1]) if 2 in raw else {}
    return obj
