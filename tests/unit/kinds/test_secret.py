"""Secrets: stringData into data, keys and base64 checked, bootstrap tokens' format, the
printed row (kfs/apiserver/kinds/secret.py)."""
import base64

from tests.unit.kind_objects import cells, column_names, defaulted, errors, named


def b64(text):
    return base64.b64encode(text.encode()).decode()


def secret(**body):
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"}, **body}


def token(name="bootstrap-token-abcdef", **data):
    values = {"token-id": "abcdef", "token-secret": "0123456789abcdef",
              "usage-bootstrap-authentication": "true", **data}
    return {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": name, "namespace": "kube-system"},
            "stringData": values}


def test_string_data_is_encoded_into_data_and_type_defaults_to_opaque():
    s = defaulted(secret(data={"a": b64("1")}, stringData={"b": "2"}))
    assert s["data"] == {"a": b64("1"), "b": b64("2")} and "stringData" not in s
    assert s["type"] == "Opaque"


def test_keys_and_values_are_checked_naming_the_field():
    found = errors(secret(data={"bad key": b64("x"), "ok": "not base64!"}))
    assert [f for f, _, _ in found] == ["data[bad key]", "data[ok]"]


def test_a_valid_bootstrap_token_has_no_causes():
    assert errors(token()) == []


def test_a_bootstrap_tokens_id_secret_and_name_are_checked():
    assert [f for f, _, _ in errors(token(**{"token-id": "ABC"}))] == ["data[token-id]"]
    assert [f for f, _, _ in errors(token(**{"token-secret": "short"}))] == ["data[token-secret]"]
    assert [f for f, _, _ in errors(token(name="bootstrap-token-zzzzzz"))] == ["metadata.name"]


def test_type_is_immutable_and_so_is_an_immutable_secrets_data():
    old = defaulted(secret(data={"a": b64("1")}, immutable=True))
    new = defaulted(secret(data={"a": b64("2")}, immutable=True, type="other"))
    assert [f for f, _, _ in errors(new, old)] == ["type", "data"]


def test_secrets_have_upstreams_columns_and_count_their_keys():
    assert column_names("secrets") == (["Name", "Type", "Data", "Age"], [])
    assert cells("secrets", named("s", type="Opaque", data={"a": "", "b": ""})) == [
        "s", "Opaque", 2, "5m"]
