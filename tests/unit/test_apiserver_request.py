"""The API server's pure parts: request info, content negotiation, decoding, discovery."""
import json

import pytest

from kfs.apiserver import discovery, errors, negotiation, protobuf, requestinfo, schema


@pytest.mark.parametrize("method,path,query,expected", [
    ("GET", "/api/v1/namespaces/default/pods", {}, ("list", "", "default", "pods", "", "")),
    ("GET", "/api/v1/pods", {"watch": "true"}, ("watch", "", "", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns/pods", {"fieldSelector": "metadata.name=p"},
     ("list", "", "ns", "pods", "p", "")),
    ("GET", "/apis/apps/v1/namespaces/ns/deployments/web/scale", {},
     ("get", "apps", "ns", "deployments", "web", "scale")),
    ("POST", "/api/v1/namespaces/ns/pods/p/binding", {},
     ("create", "", "ns", "pods", "p", "binding")),
    ("DELETE", "/api/v1/namespaces/ns/pods", {}, ("deletecollection", "", "ns", "pods", "", "")),
    ("GET", "/api/v1/namespaces/ns", {}, ("get", "", "ns", "namespaces", "ns", "")),
    ("PUT", "/api/v1/namespaces/ns/status", {}, ("update", "", "ns", "namespaces", "ns", "status")),
    ("PATCH", "/api/v1/nodes/n1/status", {}, ("patch", "", "", "nodes", "n1", "status")),
])
def test_request_info_reads_verb_and_resource_from_the_path(method, path, query, expected):
    info = requestinfo.parse(method, path, query)
    assert info.resource_request
    assert (info.verb, info.api_group, info.namespace, info.resource, info.name,
            info.subresource) == expected


@pytest.mark.parametrize("path", ["/version", "/api", "/api/v1", "/apis", "/apis/apps",
                                  "/apis/apps/v1", "/healthz", "/openapi/v2"])
def test_paths_outside_resources_are_non_resource_requests(path):
    info = requestinfo.parse("GET", path, {})
    assert not info.resource_request and info.verb == "get"


def test_accept_headers_choose_table_json_or_yaml():
    assert negotiation.wants("application/json;as=Table;v=v1;g=meta.k8s.io,application/json") \
        == "table"
    assert negotiation.wants("application/vnd.kubernetes.protobuf,application/json") == "json"
    assert negotiation.wants("application/yaml") == "yaml"
    assert negotiation.wants("") == "json"
    with pytest.raises(errors.StatusError) as e:
        negotiation.wants("application/vnd.kubernetes.protobuf")
    assert e.value.code == 406


def test_bodies_decode_from_json_or_yaml_and_other_types_are_415():
    assert negotiation.decode_body(b'{"a": 1}', None) == {"a": 1}
    assert negotiation.decode_body(b"a: 1\n", "application/yaml") == {"a": 1}
    with pytest.raises(errors.StatusError) as e:
        negotiation.decode_body(b"<a/>", "application/xml")
    assert e.value.code == 415
    with pytest.raises(errors.StatusError) as e:
        negotiation.decode_body(b"{", "application/json")
    assert e.value.code == 400


def test_decoding_drops_unknown_fields_and_nulls_and_reports_the_unknown():
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": None},
           "spec": {"containers": [{"name": "c", "image": "i", "imagee": "x"}], "nope": 1}}
    unknown = schema.decode(obj, "v1", "Pod")
    assert unknown == ["spec.containers[0].imagee", "spec.nope"]
    assert obj == {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "image": "i"}]}}


def test_a_value_of_the_wrong_type_cannot_be_decoded():
    with pytest.raises(schema.DecodeError, match="spec.containers"):
        schema.decode({"spec": {"containers": "nginx"}}, "v1", "Pod")
    assert schema.decode({"spec": {"containers": [{"name": "c", "resources": {
        "limits": {"cpu": 1, "memory": "1Gi"}}}]}}, "v1", "Pod") == []


def _namespace_protobuf(name):
    meta = protobuf.string_field(1, name) + protobuf.string_field(2, "")  # generateName ""
    obj = protobuf.bytes_field(1, meta) + protobuf.bytes_field(2, b"") + protobuf.bytes_field(3, b"")
    type_meta = protobuf.string_field(1, "v1") + protobuf.string_field(2, "Namespace")
    return protobuf.MAGIC + protobuf.bytes_field(1, type_meta) + protobuf.bytes_field(2, obj)


def test_a_protobuf_object_decodes_to_the_json_go_would_write():
    assert protobuf.decode_object(_namespace_protobuf("demo")) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"},
        "spec": {}, "status": {}}
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode_object(b"not protobuf")


def _wrap(api_version, kind, body):
    type_meta = protobuf.string_field(1, api_version) + protobuf.string_field(2, kind)
    return protobuf.MAGIC + protobuf.bytes_field(1, type_meta) + protobuf.bytes_field(2, body)


def _entry(key, value):
    return protobuf.string_field(1, key) + protobuf.bytes_field(2, value)


def test_a_secrets_bytes_and_a_csrs_extra_decode_as_go_writes_them_in_json():
    meta = protobuf.bytes_field(1, protobuf.string_field(1, "s"))
    secret = meta + protobuf.bytes_field(2, _entry("password", b"s3cret"))
    assert protobuf.decode_object(_wrap("v1", "Secret", secret))["data"] == {
        "password": "czNjcmV0"}
    extra = protobuf.string_field(1, "a") + protobuf.string_field(1, "b")   # an ExtraValue
    spec = protobuf.bytes_field(6, _entry("k", extra))
    csr = protobuf.decode_object(_wrap("certificates.k8s.io/v1", "CertificateSigningRequest",
                                       meta + protobuf.bytes_field(2, spec)))
    assert csr["spec"]["extra"] == {"k": ["a", "b"]}


def test_the_openapi_document_is_a_protobuf_with_swagger_and_info():
    from kfs.apiserver import openapi
    doc = protobuf.fields(openapi.document())
    assert doc[1] == [b"2.0"]
    assert protobuf.fields(doc[2][0])[1] == [b"Kubernetes"]


def test_discovery_lists_subresources_with_their_own_group_and_kind():
    apps = discovery.api_resource_list("apps", "v1")
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    core = {r["name"]: r for r in discovery.api_resource_list("", "v1")["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["pods/binding"]["verbs"] == ["create"]
    assert "group" not in core["pods/log"]
    groups = [g["name"] for g in discovery.api_group_list()["groups"]]
    assert "apps" in groups and "" not in groups
    assert discovery.version()["minor"] == "32"
    assert json.dumps(discovery.api_versions("1.2.3.4:6443"))


def test_errors_are_status_objects_with_upstreams_messages():
    from kfs import resources
    deploy = resources.lookup("deploy")
    e = errors.not_found(deploy, "web")
    assert e.status == {"kind": "Status", "apiVersion": "v1", "metadata": {},
                        "status": "Failure", "message": 'deployments.apps "web" not found',
                        "reason": "NotFound", "code": 404,
                        "details": {"name": "web", "group": "apps", "kind": "deployments"}}
    assert errors.conflict(deploy, "web").message.startswith(
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified')
