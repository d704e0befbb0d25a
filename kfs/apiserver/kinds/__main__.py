"""``python -m kfs.apiserver.kinds [KUBECTL]``: regenerate the schema data of the kinds kfs
has rules for, after a kind was added: ``schema.json`` (field types, from the official
Python client's models), ``protobuf_schema.json`` (field numbers, from the descriptors
compiled into the real kubectl, default ``/usr/bin/kubectl``) and ``openapi_docs.json``
(upstream names, descriptions and required fields for ``/openapi``, from both)."""
import json
import sys

from kfs.apiserver import kinds, openapi, protobuf, schema

found = kinds.with_rules()
roots = sorted({kinds.lookup(*k).schema_type for k in found} | {"V1DeleteOptions"})
types = schema.generate(roots)
schema.SCHEMA_FILE.write_text(json.dumps(types, indent=0, sort_keys=True) + "\n")
print(f"wrote {schema.SCHEMA_FILE}")
messages = [protobuf.message_name(*k) for k in found] + [protobuf.message_name("v1", "DeleteOptions")]
binary = sys.argv[1] if len(sys.argv) > 1 else "/usr/bin/kubectl"
pb_schema = protobuf.generate(binary, messages)
protobuf.SCHEMA_FILE.write_text(json.dumps(pb_schema, separators=(",", ":"), sort_keys=True) + "\n")
print(f"wrote {protobuf.SCHEMA_FILE}")
pairs = [(kinds.lookup(*k).schema_type, protobuf.message_name(*k)) for k in found]
pairs.append(("V1DeleteOptions", protobuf.message_name("v1", "DeleteOptions")))
openapi.DOCS_FILE.write_text(json.dumps(openapi.generate_docs(types, pb_schema, pairs),
                                        indent=0, sort_keys=True) + "\n")
print(f"wrote {openapi.DOCS_FILE}")
