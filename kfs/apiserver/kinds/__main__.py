"""``python -m kfs.apiserver.kinds [KUBECTL]``: regenerate the schema data of the kinds kfs
has rules for, after a kind was added: ``schema.json`` (field types, from the official
Python client's models) and ``protobuf_schema.json`` (field numbers, from the descriptors
compiled into the real kubectl, default ``/usr/bin/kubectl``)."""
import json
import sys

from kfs.apiserver import kinds, protobuf, schema

found = kinds.with_rules()
roots = sorted({kinds.lookup(*k).schema_type for k in found} | {"V1DeleteOptions"})
schema.SCHEMA_FILE.write_text(json.dumps(schema.generate(roots), indent=0, sort_keys=True) + "\n")
print(f"wrote {schema.SCHEMA_FILE}")
messages = [protobuf.message_name(*k) for k in found] + [protobuf.message_name("v1", "DeleteOptions")]
binary = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/kubectl"
protobuf.SCHEMA_FILE.write_text(json.dumps(protobuf.generate(binary, messages),
                                           separators=(",", ":"), sort_keys=True) + "\n")
print(f"wrote {protobuf.SCHEMA_FILE}")
