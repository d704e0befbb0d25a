"""Field errors, names, labels and object metadata: the vocabulary every rule speaks.

A cause is a dict in the wire format of a 422 Status's ``details.causes``:
``{"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"}``.
The message is upstream's ``field.Error.ErrorBody``: the error type's text, the bad value
printed as Go's ``%q`` / ``%#v`` would (`go_repr`), and a detail, e.g. ``Invalid value:
"Web": a lowercase RFC 1123 subdomain must consist of ...``.

Mirrors apimachinery pkg/util/validation/field/errors.go, pkg/util/validation/validation.go
(DNS names, qualified names, label values, ports), pkg/api/validation/objectmeta.go and
pkg/apis/meta/v1/validation (labels, label selectors).

What real Kubernetes does differently: Go prints struct values with their Go type names;
kfs writes the few it needs by hand (`label_selector_repr`) and prints other values as the
JSON-ish map/list literals of their most common Go type.
"""
import functools
import ipaddress
import json
import re

from kfs import resources

# -- field errors (field/errors.go) -------------------------------------------------------

REQUIRED, INVALID, NOT_SUPPORTED = "FieldValueRequired", "FieldValueInvalid", "FieldValueNotSupported"
DUPLICATE, FORBIDDEN, TOO_LONG = "FieldValueDuplicate", "FieldValueForbidden", "FieldValueTooLong"
NOT_FOUND, TOO_MANY = "FieldValueNotFound", "FieldValueTooMany"
_TYPE_TEXT = {REQUIRED: "Required value", INVALID: "Invalid value", NOT_SUPPORTED: "Unsupported value",
              DUPLICATE: "Duplicate value", FORBIDDEN: "Forbidden", TOO_LONG: "Too long",
              NOT_FOUND: "Not found", TOO_MANY: "Too many"}
_NO_VALUE = (REQUIRED, FORBIDDEN, TOO_LONG)


class Go(str):
    """A value already written as Go's ``%#v`` would print it (a struct, an IntOrString)."""


def go_repr(v):
    """How ``field.Error.ErrorBody`` prints a bad value: %q for strings, %#v for maps."""
    if isinstance(v, Go):
        return str(v)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, dict):
        return "map[string]string{" + ", ".join(
            f"{go_repr(k)}:{go_repr(str(x))}" for k, x in sorted(v.items())) + "}"
    if isinstance(v, list):
        return "[]string{" + ", ".join(go_repr(str(x)) for x in v) + "}"
    return str(v)


def error(type_, field, value=None, detail=""):
    body = _TYPE_TEXT[type_] if type_ in _NO_VALUE else f"{_TYPE_TEXT[type_]}: {go_repr(value)}"
    if detail:
        body += f": {detail}"
    return {"reason": type_, "message": body, "field": field}


def too_many(field, count, limit):
    return error(TOO_MANY, field, count, f"must have at most {limit} items")


def required(field, detail=""):
    return error(REQUIRED, field, detail=detail)


def invalid(field, value, detail):
    return error(INVALID, field, value, detail)


def not_supported(field, value, valid):
    return error(NOT_SUPPORTED, field, value,
                 "supported values: " + ", ".join(json.dumps(v) for v in valid) if valid else "")


def duplicate(field, value):
    return error(DUPLICATE, field, value)


def forbidden(field, detail):
    return error(FORBIDDEN, field, detail=detail)


def not_found(field, value):
    return error(NOT_FOUND, field, value)


def invalid_message(kind, name, causes, group=None):
    """The 422 Status message: ``Deployment.apps "web" is invalid: <field>: <message>``.

    Several causes are joined as upstream's aggregate prints them: ``[a, b]``, duplicates
    dropped. `group` defaults to the kind's group in kfs.resources.
    """
    if group is None:
        group = next((r.group for r in resources.RESOURCES if r.kind == kind), "")
    qualified = f"{kind}.{group}" if group else kind
    msgs = list(dict.fromkeys(f"{c['field']}: {c['message']}" if c.get("field") else c["message"]
                              for c in causes))
    if not msgs:
        return f'{qualified} "{name}" is invalid'
    return f'{qualified} "{name}" is invalid: ' + (msgs[0] if len(msgs) == 1 else f"[{', '.join(msgs)}]")


# -- names, labels (util/validation/validation.go) ---------------------------------------

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QNAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QNAME_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
IS_NEGATIVE = "must be greater than or equal to 0"
IMMUTABLE = "field is immutable"


def regex_error(msg, fmt, *examples):
    """RegexError, quirks included: "(e.g. 'my-name',  or '123-abc', regex used ...)"."""
    return f"{msg} (e.g. " + " or ".join(f"'{e}', " for e in examples) + f"regex used for validation is '{fmt}')"


def max_len_error(n):
    return f"must be no more than {n} characters"


@functools.lru_cache(maxsize=None)
def _compiled(regex):
    return re.compile(regex)


def _full(regex, value):
    return _compiled(regex).fullmatch(value) is not None


def dns1123_label(value):
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _full(_LABEL, value):
        errs.append("must not contain dots" if _full(_SUBDOMAIN, value) else regex_error(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
            "and must start and end with an alphanumeric character", _LABEL, "my-name", "123-abc"))
    return errs


def dns1123_subdomain(value):
    errs = [max_len_error(253)] if len(value) > 253 else []
    if not _full(_SUBDOMAIN, value):
        errs.append(regex_error(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character", _SUBDOMAIN, "example.com"))
    return errs


def dns1035_label(value):
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _full(_DNS1035, value):
        errs.append(regex_error(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character", _DNS1035, "my-name", "abc-123"))
    return errs


def qualified_name(value):
    parts, errs = value.split("/"), []
    if len(parts) > 2:
        return ["a qualified name " + regex_error(_QNAME_MSG, _QNAME, "MyName", "my.name", "123-abc")
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    name = parts[-1]
    if len(parts) == 2:
        errs += ["prefix part must be non-empty"] if not parts[0] else [
            "prefix part " + m for m in dns1123_subdomain(parts[0])]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _full(_QNAME, name):
        errs.append("name part " + regex_error(_QNAME_MSG, _QNAME, "MyName", "my.name", "123-abc"))
    return errs


def label_value(value):
    errs = [max_len_error(63)] if len(value) > 63 else []
    if not _full(f"({_QNAME})?", value):
        errs.append(regex_error("a valid label must be an empty string or consist of alphanumeric characters, "
                                "'-', '_' or '.', and must start and end with an alphanumeric character",
                                f"({_QNAME})?", "MyValue", "my_value", "12345"))
    return errs


def port_name(value):
    errs = [max_len_error(15)] if len(value) > 15 else []
    if not _full("[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value[:1] == "-" or value[-1:] == "-":
        errs.append("must not begin or end with a hyphen")
    return errs


def path_segment_name(value, prefix=False):
    """ValidateRBACName (apimachinery path.IsValidPathSegmentName)."""
    errs = [f"may not be '{value}'"] if value in (".", "..") and not prefix else []
    return errs + [f"may not contain '{c}'" for c in "/%" if c in value]


def port_num(port):
    return [] if isinstance(port, int) and 1 <= port <= 65535 else ["must be between 1 and 65535, inclusive"]


def name_is_subdomain(name, prefix=False):
    return dns1123_subdomain(name[:-2] + "a" if prefix and len(name) > 1 and name.endswith("-") else name)


def name_is_label(name, prefix=False):
    return dns1123_label(name[:-2] + "a" if prefix and len(name) > 1 and name.endswith("-") else name)


def name_is_dns1035(name, prefix=False):
    return dns1035_label(name[:-2] + "a" if prefix and len(name) > 1 and name.endswith("-") else name)


def _each(msgs, field, value):
    return [invalid(field, value, m) for m in msgs]


def validate_labels(labels, field):
    errs = []
    for k, v in (labels or {}).items():
        errs += _each(qualified_name(k), field, k) + _each(label_value(str(v)), field, str(v))
    return errs


def validate_annotations(annotations, field):
    errs = [e for k in (annotations or {}) for e in _each(qualified_name(k.lower()), field, k)]
    if sum(len(k) + len(str(v)) for k, v in (annotations or {}).items()) > 256 * 1024:
        errs.append(error(TOO_LONG, field, detail=f"must have at most {256 * 1024} bytes"))
    return errs


def non_negative(value, field):
    return [invalid(field, value, IS_NEGATIVE)] if isinstance(value, (int, float)) and value < 0 else []


# -- object metadata (api/validation/objectmeta.go) ---------------------------------------

def validate_object_meta(md, namespaced, name_fn, path="metadata"):
    errs = []
    if md.get("generateName"):
        errs += _each(name_fn(md["generateName"], True), f"{path}.generateName", md["generateName"])
    if not md.get("name"):
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs += _each(name_fn(md["name"], False), f"{path}.name", md["name"])
    if namespaced:
        if not md.get("namespace"):
            errs.append(required(f"{path}.namespace"))
        else:
            errs += _each(name_is_label(md["namespace"]), f"{path}.namespace", md["namespace"])
    elif md.get("namespace"):
        errs.append(forbidden(f"{path}.namespace", "not allowed on this type"))
    errs += non_negative(md.get("generation", 0), f"{path}.generation")
    errs += validate_labels(md.get("labels"), f"{path}.labels")
    errs += validate_annotations(md.get("annotations"), f"{path}.annotations")
    controllers = [r for r in md.get("ownerReferences") or [] if r.get("controller")]
    if len(controllers) > 1:
        names = [f"{r.get('kind')}/{r.get('name')}" for r in controllers[:2]]
        errs.append(invalid(f"{path}.ownerReferences", Go("[]v1.OwnerReference{...}"),
                            'Only one reference can have Controller set to true. Found "true" in '
                            f"references for {names[0]} and {names[1]}"))
    for f in md.get("finalizers") or []:
        errs += _each(qualified_name(f), f"{path}.finalizers", f)
    return errs


def validate_object_meta_update(new, old, path="metadata"):
    errs = []
    if old.get("deletionTimestamp"):
        extra = sorted(set(new.get("finalizers") or []) - set(old.get("finalizers") or []))
        if extra:
            errs.append(forbidden(f"{path}.finalizers", "no new finalizers can be added if the object is being "
                                  f"deleted, found new finalizers {go_repr(extra)}"))
    if new.get("generation", 0) < old.get("generation", 0):
        errs.append(invalid(f"{path}.generation", new.get("generation", 0), "must not be decremented"))
    for f in ("name", "namespace", "uid", "creationTimestamp", "deletionTimestamp"):
        if new.get(f) != old.get(f):
            errs.append(invalid(f"{path}.{f}", new.get(f, ""), IMMUTABLE))
    return errs + validate_labels(new.get("labels"), f"{path}.labels") + validate_annotations(
        new.get("annotations"), f"{path}.annotations")


def validate_label_selector(sel, path):
    errs = validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    for i, e in enumerate(sel.get("matchExpressions") or []):
        p, op, values = f"{path}.matchExpressions[{i}]", e.get("operator"), e.get("values") or []
        if op in ("In", "NotIn") and not values:
            errs.append(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist") and values:
            errs.append(forbidden(f"{p}.values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        elif op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            errs.append(invalid(f"{p}.operator", op, "not a valid selector operator"))
        errs += _each(qualified_name(e.get("key", "")), f"{p}.key", e.get("key", ""))
        for j, v in enumerate(values):
            errs += _each(label_value(v), f"{p}.values[{j}]", v)
    return errs


def label_selector_repr(sel):
    """A *metav1.LabelSelector as %#v prints it, as in the "field is immutable" message."""
    if sel is None:
        return Go("null")
    ml = sel.get("matchLabels")
    labels = "map[string]string(nil)" if ml is None else go_repr(ml)
    exprs = sel.get("matchExpressions")
    ex = "[]v1.LabelSelectorRequirement(nil)" if exprs is None else "[]v1.LabelSelectorRequirement{" + ", ".join(
        f'v1.LabelSelectorRequirement{{Key:{go_repr(e.get("key", ""))}, Operator:{go_repr(e.get("operator", ""))}, '
        f'Values:{go_repr(e["values"]) if "values" in e else "[]string(nil)"}}}' for e in exprs) + "}"
    return Go(f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{ex}}}")


# -- IP addresses (pkg/apis/core/validation: IsValidIP, ValidateCIDR) ----------------------

INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


def is_ip(text):
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def is_cidr(text):
    try:
        return "/" in text and bool(ipaddress.ip_network(text, strict=False))
    except ValueError:
        return False

