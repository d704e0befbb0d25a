"""The OpenAPI documents kubectl reads (kfs/apiserver/openapi.py): definitions from the
schema data, upstream's names, the kinds' group-version-kinds, the patch extensions the
server merges by, v3 per group version, and the protobuf form of v2."""
import json

import pytest

from kfs import resources
from kfs.apiserver import kinds, openapi, protobuf, schema

DEPLOYMENT_SPEC = "io.k8s.api.apps.v1.DeploymentSpec"


def definition(name):
    return openapi.definitions()[name]


def test_every_type_of_the_schema_data_has_its_docs_regenerated_with_it():
    missing = sorted(set(schema.schema()) - set(openapi.docs()))
    assert missing == [], f"run python -m kfs.apiserver.kinds: no openapi docs for {missing}"


@pytest.mark.parametrize("model, name", [
    ("V1Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("V1PodTemplateSpec", "io.k8s.api.core.v1.PodTemplateSpec"),
    ("V1ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"),
    ("CoreV1Event", "io.k8s.api.core.v1.Event"),
    ("DiscoveryV1EndpointPort", "io.k8s.api.discovery.v1.EndpointPort"),
    ("V1Scale", "io.k8s.api.autoscaling.v1.Scale"),
    ("V1SelfSubjectReview", "io.k8s.api.authentication.v1.SelfSubjectReview"),
])
def test_definitions_carry_upstreams_names(model, name):
    assert openapi.upstream_name(model) == name and name in openapi.definitions()


def test_a_model_the_walk_did_not_reach_is_named_after_its_group_or_its_referrer():
    assert openapi.guess_name("RbacV1Subject", "io.k8s.api.core.v1") == "io.k8s.api.rbac.v1.Subject"
    assert openapi.guess_name("V1ForNode", "io.k8s.api.discovery.v1") == \
        "io.k8s.api.discovery.v1.ForNode"


def test_a_definition_has_the_fields_of_the_schema_data_with_types_and_descriptions():
    spec = definition(DEPLOYMENT_SPEC)
    assert set(spec["properties"]) == set(schema.schema()["V1DeploymentSpec"])
    assert spec["required"] == ["selector", "template"]
    assert spec["properties"]["replicas"]["type"] == "integer"
    assert spec["properties"]["replicas"]["description"].startswith("Number of desired pods.")
    strategy = spec["properties"]["strategy"]
    assert strategy["$ref"] == "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy"
    # the models have no description for a field holding a type: the type's own
    assert strategy["description"] == definition("io.k8s.api.apps.v1.DeploymentStrategy")[
        "description"]


def test_scalars_go_writes_as_strings_have_definitions_of_their_own():
    ports = definition("io.k8s.api.core.v1.ServicePort")["properties"]
    assert ports["targetPort"]["$ref"] == "#/definitions/" + openapi.INT_OR_STRING
    limits = definition("io.k8s.api.core.v1.ResourceRequirements")["properties"]["limits"]
    assert limits["additionalProperties"] == {"$ref": "#/definitions/" + openapi.QUANTITY}
    meta = definition(openapi.META + ".ObjectMeta")["properties"]
    assert meta["creationTimestamp"]["$ref"] == "#/definitions/" + openapi.TIME
    assert meta["labels"] == {"type": "object", "additionalProperties": {"type": "string"},
                              "description": meta["labels"]["description"]}
    assert definition(openapi.INT_OR_STRING)["format"] == "int-or-string"


def test_every_served_kind_names_its_group_version_kind():
    for r in resources.RESOURCES:
        name = openapi.upstream_name(kinds.lookup(r.api_version, r.kind).schema_type)
        assert {"group": r.group, "kind": r.kind, "version": r.version} in \
            definition(name)["x-kubernetes-group-version-kind"], r.kind


def test_lists_carry_the_patch_strategy_the_server_merges_by():
    pod_spec = definition("io.k8s.api.core.v1.PodSpec")["properties"]
    assert pod_spec["containers"]["x-kubernetes-patch-merge-key"] == "name"
    assert pod_spec["containers"]["x-kubernetes-patch-strategy"] == "merge"
    assert pod_spec["volumes"]["x-kubernetes-patch-strategy"] == "merge,retainKeys"
    assert "x-kubernetes-patch-strategy" not in pod_spec["tolerations"]  # replaced whole
    container = definition("io.k8s.api.core.v1.Container")["properties"]
    assert container["ports"]["x-kubernetes-patch-merge-key"] == "containerPort"
    strategy = definition(DEPLOYMENT_SPEC)["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    finalizers = definition(openapi.META + ".ObjectMeta")["properties"]["finalizers"]
    assert finalizers["x-kubernetes-patch-strategy"] == "merge"
    assert "x-kubernetes-patch-merge-key" not in finalizers


def test_every_ref_leads_to_a_definition():
    defs = openapi.definitions()
    dangling = {r for d in defs.values() for r in openapi.refs_in(d)
                if r[len(openapi.V2_REF):] not in defs}
    assert dangling == set()


def test_the_v3_discovery_names_each_group_versions_document_with_its_hash():
    paths = openapi.v3_discovery()["paths"]
    assert {"api/v1", "apis/apps/v1", "apis/authentication.k8s.io/v1"} <= set(paths)
    url = paths["apis/apps/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/apps/v1?hash=") and len(url.split("=")[1]) == 128


def test_a_v3_document_finds_its_kinds_by_path_and_holds_what_they_refer_to():
    doc = openapi.v3_document("apps", "v1")
    op = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "kind": "Deployment",
                                                     "version": "v1"}
    schemas = doc["components"]["schemas"]
    assert {"io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.PodSpec",
            "io.k8s.api.autoscaling.v1.Scale", openapi.INT_OR_STRING} <= set(schemas)
    assert "io.k8s.api.core.v1.Node" not in schemas
    assert schemas[DEPLOYMENT_SPEC]["properties"]["template"]["$ref"] == \
        "#/components/schemas/io.k8s.api.core.v1.PodTemplateSpec"
    assert not any(r.startswith("#/definitions/") for r in openapi.refs_in(doc))
    assert openapi.v3_document("apps", "v9") is None


def test_a_review_kind_is_found_by_its_post():
    doc = openapi.v3_document("authentication.k8s.io", "v1")
    assert doc["paths"]["/apis/authentication.k8s.io/v1/selfsubjectreviews"]["post"][
        "x-kubernetes-group-version-kind"]["kind"] == "SelfSubjectReview"


def _named(data):
    """{name: value bytes} of a repeated NamedSchema / NamedAny field."""
    return {protobuf.fields(n)[1][0].decode(): protobuf.fields(n)[2][0] for n in data}


def test_the_v2_protobuf_holds_each_definition_with_its_properties_and_extensions():
    doc = protobuf.fields(openapi.document())
    assert doc[1] == [b"2.0"]
    definitions = _named(protobuf.fields(doc[9][0])[1])
    deployment = protobuf.fields(definitions["io.k8s.api.apps.v1.Deployment"])
    assert protobuf.fields(deployment[22][0])[1] == [b"object"]          # type
    properties = _named(protobuf.fields(deployment[25][0])[1])
    spec = protobuf.fields(properties["spec"])
    assert spec[1] == [b"#/definitions/" + DEPLOYMENT_SPEC.encode()]     # $ref
    extensions = _named(deployment[31])
    gvk = json.loads(protobuf.fields(extensions["x-kubernetes-group-version-kind"])[2][0])
    assert gvk == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    required = protobuf.fields(definitions[DEPLOYMENT_SPEC])[19]
    assert required == [b"selector", b"template"]


def test_a_map_is_an_object_with_additional_properties_and_no_properties():
    encoded = protobuf.fields(protobuf.openapi_schema(
        {"type": "object", "additionalProperties": {"type": "string"}}))
    assert 25 not in encoded
    inner = protobuf.fields(protobuf.fields(encoded[21][0])[1][0])
    assert protobuf.fields(inner[22][0])[1] == [b"string"]
    assert 25 in protobuf.fields(protobuf.openapi_schema({"type": "object", "properties": {}}))
