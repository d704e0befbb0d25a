"""Secrets (``v1``): small named blobs, base64 in ``data``, typed by ``type``.

kfs needs them for TLS bootstrapping: a bootstrap token is the Secret
``kube-system/bootstrap-token-<id>`` of type ``bootstrap.kubernetes.io/token`` holding
``token-id``, ``token-secret``, ``expiration``, ``usage-bootstrap-authentication`` and
``auth-extra-groups`` (``kfs.apiserver.bootstrap`` reads them).

- **defaults**: ``type: Opaque``; ``stringData`` (plain text, write-only) is base64-encoded
  into ``data`` and dropped, as the v1 conversion does;
- **validation**: data keys are ``[-._a-zA-Z0-9]+``, values base64, at most 1 MiB in all; a
  bootstrap token's keys as the token format says; ``type`` and, once ``immutable: true``,
  ``data`` may not change;
- printed as ``NAME TYPE DATA AGE``.

Mirrors pkg/apis/core/v1/conversion.go (stringData), pkg/apis/core/validation
(ValidateSecret, ValidateSecretUpdate), pkg/registry/core/secret/strategy.go and
printSecret; the bootstrap token format is k8s.io/cluster-bootstrap/token/api.

What real Kubernetes does differently: Secrets can be encrypted at rest (an
EncryptionConfiguration), and the API server checks the well-known types (TLS,
dockerconfigjson, service-account tokens) for their required keys; the bootstrap token
format is checked by the token's users (its authenticator, the bootstrap signer and the
token cleaner), not by validation.
"""
import base64
import binascii
import re

from kfs import meta
from kfs.apiserver.kinds import Kind
from kfs.apiserver.tables import AGE, NAME, age, col
from kfs.apiserver.validation.fields import IMMUTABLE, forbidden, invalid, required

BOOTSTRAP_TOKEN_TYPE = "bootstrap.kubernetes.io/token"
KEY = re.compile(r"[-._a-zA-Z0-9]+")
KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' " \
          "(e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is " \
          "'[-._a-zA-Z0-9]+')"
MAX_SIZE = 1024 * 1024
TOKEN_ID, TOKEN_SECRET = re.compile(r"[a-z0-9]{6}"), re.compile(r"[a-z0-9]{16}")

COLUMNS = [NAME, col("Type", description="The type of the secret"),
           col("Data", "integer", "The number of keys in the secret"), AGE]


def value(secret, key):
    """The decoded text of ``data[key]``, or None."""
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw).decode()
    except (binascii.Error, ValueError):
        return None


class Secret(Kind):
    api_version, kind = "v1", "Secret"
    columns = COLUMNS

    def default(self, secret):
        string_data = secret.pop("stringData", None) or {}
        if string_data:
            data = secret.setdefault("data", {}) or {}
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()
            secret["data"] = data
        secret.setdefault("type", "Opaque")

    def validate(self, secret):
        errs, total = [], 0
        for k, v in (secret.get("data") or {}).items():
            if not KEY.fullmatch(k):
                errs.append(invalid(f"data[{k}]", k, KEY_MSG))
            try:
                total += len(base64.b64decode(v or "", validate=True))
            except (binascii.Error, ValueError, TypeError):
                errs.append(invalid(f"data[{k}]", "<secret contents redacted>",
                                    "illegal base64 data"))
        if total > MAX_SIZE:
            errs.append(forbidden("data", f"may not be more than {MAX_SIZE} bytes"))
        if secret.get("type") == BOOTSTRAP_TOKEN_TYPE:
            errs += _validate_bootstrap_token(secret)
        return errs

    def validate_update(self, new, old):
        errs = []
        if new.get("type") != old.get("type"):
            errs.append(invalid("type", new.get("type"), IMMUTABLE))
        if old.get("immutable"):
            if not new.get("immutable"):
                errs.append(forbidden("immutable", "field is immutable when `immutable` is set"))
            if new.get("data") != old.get("data"):
                errs.append(forbidden("data", "field is immutable when `immutable` is set"))
        return errs

    def print_row(self, secret, now):
        return [meta.name(secret), secret.get("type", "Opaque"),
                len(secret.get("data") or {}), age(secret, now)]


def _validate_bootstrap_token(secret):
    """token-id and token-secret present and well-formed, the name bootstrap-token-<id>."""
    errs = []
    token_id, token_secret = value(secret, "token-id"), value(secret, "token-secret")
    if not token_id:
        errs.append(required("data[token-id]"))
    elif not TOKEN_ID.fullmatch(token_id):
        errs.append(invalid("data[token-id]", token_id, "must match [a-z0-9]{6}"))
    elif meta.name(secret) != f"bootstrap-token-{token_id}":
        errs.append(invalid("metadata.name", meta.name(secret),
                            f"a bootstrap token's Secret must be named bootstrap-token-{token_id}"))
    if not token_secret:
        errs.append(required("data[token-secret]"))
    elif not TOKEN_SECRET.fullmatch(token_secret):
        errs.append(invalid("data[token-secret]", "<secret contents redacted>",
                            "must match [a-z0-9]{16}"))
    return errs


KIND = Secret
