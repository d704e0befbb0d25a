"""Bad input never yields a 500 or kills the server: each gets its 4xx Status."""
import json

import pytest
import requests


@pytest.fixture
def http(cp):
    """Raw HTTPS as the admin: (method, path, **kwargs) -> response."""
    def call(method, path, **kwargs):
        return requests.request(method, cp.server + path, verify=str(cp.pki.ca),
                                cert=(str(cp.pki.cert("admin")), str(cp.pki.key("admin"))),
                                timeout=30, **kwargs)
    yield call
    assert call("GET", "/readyz").status_code == 200  # still serving


def status_of(resp, code, reason):
    body = resp.json()
    assert (resp.status_code, body["kind"], body["code"], body["reason"]) == (
        code, "Status", code, reason), body
    return body


POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
       "spec": {"containers": [{"name": "c", "image": "kfs/busybox:1"}]}}


def test_malformed_json_is_400(http, ns):
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", data=b'{"kind": "Pod", ',
             headers={"Content-Type": "application/json"})
    status_of(r, 400, "BadRequest")


def test_malformed_yaml_is_400(http, ns):
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", data=b"kind: Pod\n  bad: [indent",
             headers={"Content-Type": "application/yaml"})
    status_of(r, 400, "BadRequest")


def test_a_body_that_is_not_an_object_is_400(http, ns):
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", json=[1, 2])
    status_of(r, 400, "BadRequest")


def test_unknown_fields_under_strict_validation_are_400_naming_the_field(http, ns):
    pod = json.loads(json.dumps(POD))
    pod["spec"]["containers"][0]["imagee"] = "typo"
    r = http("POST", f"/api/v1/namespaces/{ns}/pods?fieldValidation=Strict", json=pod)
    body = status_of(r, 400, "BadRequest")
    assert 'unknown field "spec.containers[0].imagee"' in body["message"]


def test_unknown_fields_by_default_are_dropped_with_a_warning(http, ns):
    pod = {**POD, "spec": {**POD["spec"], "bogus": 1}}
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod)
    assert r.status_code == 201 and "bogus" not in r.json()["spec"]
    assert 'unknown field \\"spec.bogus\\"' in r.headers["Warning"]


def test_a_value_of_the_wrong_type_is_400(http, ns):
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
         "spec": {"replicas": "three"}}
    r = http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", json=d)
    assert "spec.replicas" in status_of(r, 400, "BadRequest")["message"]


def test_invalid_names_and_specs_are_422_with_a_cause_per_field(http, ns):
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "Bad_Name"},
         "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "a"}},
                  "template": {"metadata": {"labels": {"app": "b"}},
                               "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    r = http("POST", f"/apis/apps/v1/namespaces/{ns}/deployments", json=d)
    body = status_of(r, 422, "Invalid")
    fields = {c["field"] for c in body["details"]["causes"]}
    assert {"metadata.name", "spec.replicas", "spec.template.metadata.labels"} <= fields
    assert body["message"].startswith('Deployment.apps "Bad_Name" is invalid: [')


def test_a_body_over_3_mib_is_413(http, ns):
    pod = {**POD, "metadata": {"name": "big", "annotations": {"a": "x" * (3 << 20)}}}
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", json=pod)
    status_of(r, 413, "RequestEntityTooLarge")


def test_an_unknown_resource_is_404(http):
    status_of(http("GET", "/api/v1/widgets"), 404, "NotFound")
    status_of(http("GET", "/apis/apps/v1/namespaces/default/gizmos/x"), 404, "NotFound")


def test_a_missing_namespace_is_404_naming_it(http):
    r = http("POST", "/api/v1/namespaces/nowhere/pods", json=POD)
    assert status_of(r, 404, "NotFound")["message"] == 'namespaces "nowhere" not found'


def test_a_verb_the_resource_does_not_have_is_405(http, ns):
    status_of(http("PUT", f"/api/v1/namespaces/{ns}/pods", json=POD), 405, "MethodNotAllowed")
    status_of(http("POST", f"/api/v1/namespaces/{ns}/pods/p", json=POD), 405,
              "MethodNotAllowed")
    status_of(http("GET", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"), 405,
              "MethodNotAllowed")


def test_wrong_content_types_are_415(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=POD)
    r = http("PATCH", f"/api/v1/namespaces/{ns}/pods/p", data=b"{}",
             headers={"Content-Type": "text/plain"})
    status_of(r, 415, "UnsupportedMediaType")
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", data=b"<pod/>",
             headers={"Content-Type": "application/xml"})
    status_of(r, 415, "UnsupportedMediaType")


def test_bad_selectors_are_400(http, ns):
    status_of(http("GET", f"/api/v1/namespaces/{ns}/pods?labelSelector=a%20in%20(b"), 400,
              "BadRequest")
    status_of(http("GET", f"/api/v1/namespaces/{ns}/pods?fieldSelector=spec.bogus%3Dx"), 400,
              "BadRequest")


def test_a_patch_that_cannot_apply_is_an_error_not_a_crash(http, ns):
    http("POST", f"/api/v1/namespaces/{ns}/pods", json=POD)
    r = http("PATCH", f"/api/v1/namespaces/{ns}/pods/p", data=b'[{"op": "remove", "path": "/x"}]',
             headers={"Content-Type": "application/json-patch+json"})
    assert r.status_code in (400, 422) and r.json()["kind"] == "Status"
    r = http("PATCH", f"/api/v1/namespaces/{ns}/pods/p", data=b"not json",
             headers={"Content-Type": "application/merge-patch+json"})
    status_of(r, 400, "BadRequest")


def test_a_wrong_kind_in_the_body_is_400(http, ns):
    r = http("POST", f"/api/v1/namespaces/{ns}/pods", json={**POD, "kind": "Service"})
    status_of(r, 400, "BadRequest")


def _paths(obj, prefix=()):
    yield prefix
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) \
        else ()
    for k, v in items:
        yield from _paths(v, prefix + (k,))


@pytest.mark.parametrize("kind", ["pods", "deployments"])
def test_any_field_set_to_a_value_of_the_wrong_shape_is_a_4xx(http, ns, kind):
    """Every field of a valid object, replaced in turn by values of every JSON shape."""
    if kind == "pods":
        url, valid = f"/api/v1/namespaces/{ns}/pods", {
            **POD, "metadata": {"name": "p", "labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                                     "resources": {"limits": {"cpu": "1"}}}]}}
    else:
        url, valid = f"/apis/apps/v1/namespaces/{ns}/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}},
                     "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
                         "containers": [{"name": "c", "image": "i"}]}}}}
    codes = set()
    for path in list(_paths(valid))[1:]:
        if path[0] in ("apiVersion", "kind"):
            continue
        for value in (None, "x", -1, [], {}, [{}], "25%"):
            obj = json.loads(json.dumps(valid))
            target = obj
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = value
            r = http("POST", url + "?dryRun=All", json=obj)
            assert r.status_code < 500, (path, value, r.text)
            codes.add(r.status_code)
    assert {201, 400, 422} <= codes
