"""PATCH for the API server: strategic merge patch, JSON merge patch, JSON patch and apply.

Mirrors the apply half of ``apimachinery/pkg/util/strategicpatch/patch.go``
(``StrategicMergePatch``), RFC 7386 JSON merge patch and RFC 6902 JSON patch (upstream:
``evanphx/json-patch``; kfs: the ``jsonpatch`` library), as
``apiserver/pkg/endpoints/handlers/patch.go`` picks one by the request's Content-Type.

Why kubectl needs strategic merge: a JSON merge patch treats every list as one value, so
``{"spec":{"containers":[{"name":"c","image":"x:2"}]}}`` would replace the whole list and
lose the other containers and this one's ports and env. Most Kubernetes lists are really
sets of named things, so strategic merge looks up, per field, whether the list merges and
by which key (upstream's ``patchStrategy:"merge" patchMergeKey:"name"`` struct tags; here
the table ``STRUCTS``) and merges element by element. Other lists (tolerations, Endpoints
subsets, RBAC rules) are replaced whole, as in a JSON merge patch. ``null`` deletes a key.

``kubectl apply`` diffs your file, its last-applied annotation and the live object, and
sends only the changes plus directives for what plain JSON cannot say:

- ``{"name": "c", "$patch": "delete"}`` in a merging list deletes that element;
  ``[{"$patch": "replace"}, ...]`` replaces the list; in a map, ``$patch: delete`` empties
  it and ``$patch: replace`` replaces it instead of merging.
- ``$setElementOrder/containers: [{"name": "a"}, {"name": "c"}]``: the order of the merged
  list (elements only on the server keep their place between them).
- ``$deleteFromPrimitiveList/finalizers: ["x"]``: values to remove from a merging list of
  strings.
- ``$retainKeys: [type]``: clear every other key of this map (a union such as a
  Deployment's ``spec.strategy``: switching to ``Recreate`` must drop ``rollingUpdate``).

What real Kubernetes does differently:
- Merge keys come from the Go struct tags (or the OpenAPI ``x-kubernetes-patch-*``
  extensions) of every type; kfs has a hand-written table for the kinds it serves.
- Server-side apply tracks which manager owns which field (``metadata.managedFields``,
  structured-merge-diff), removes fields a manager stops applying and reports conflicts;
  kfs's ``apply`` is a strategic merge of the applied configuration onto the live object.
- Upstream rejects ``$patch: merge``, passes unknown ``$keys`` through, ignores some
  malformed directives and drops a new map that carries ``$patch: replace``; kfs accepts
  ``merge`` as the default spelled out, rejects unknown ``$keys`` and malformed directives
  (no directive ever reaches storage) and keeps the new map.
- When one patch deletes some elements of a list and adds others, upstream's order for the
  result is a side effect of Go slice aliasing; kfs applies its ordering rule as written.
"""
import copy
from dataclasses import dataclass

import jsonpatch
import jsonpointer

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ORDER = "$setElementOrder/"
DELETE_FROM = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    """A patch that cannot be applied: the API server answers 400/422 with this message."""

    def __init__(self, reason):
        super().__init__(f"the patch could not be applied: {reason}")


# -- which lists merge, and by which key ---------------------------------------------------
# One entry per upstream Go type (and per kind) with the fields that matter to patching:
#   "Type"                   an object of that type: look inside it for merging lists
#   "[]Type merge:key"       a list of objects merged by `key`, elements of that type
#   "[] merge"               a list of strings merged as a set (metadata.finalizers)
#   "... retainKeys"         kubectl sends $retainKeys here (every map honours it anyway)
# A field not listed merges key by key if it is a map, and is replaced whole if it is a
# list: no patchStrategy upstream (PodSpec.tolerations, Endpoints.subsets, Role.rules...).
_OBJECT = {"metadata": "ObjectMeta"}
_CONDITIONS = {"conditions": "[] merge:type"}

STRUCTS = {
    "ObjectMeta": {"finalizers": "[] merge", "ownerReferences": "[] merge:uid"},
    "PodTemplateSpec": {"metadata": "ObjectMeta", "spec": "PodSpec"},
    "PodSpec": {
        "containers": "[]Container merge:name",
        "initContainers": "[]Container merge:name",
        "ephemeralContainers": "[]Container merge:name",
        "volumes": "[] merge:name retainKeys",
        "imagePullSecrets": "[] merge:name",
        "hostAliases": "[] merge:ip",
        "topologySpreadConstraints": "[] merge:topologyKey",
        "schedulingGates": "[] merge:name",
        "resourceClaims": "[] merge:name retainKeys",
    },
    "Container": {
        "ports": "[] merge:containerPort",
        "env": "[] merge:name",
        "volumeMounts": "[] merge:mountPath",
        "volumeDevices": "[] merge:devicePath",
    },
    "PodStatus": {
        "conditions": "[] merge:type",
        "podIPs": "[] merge:ip",
        "hostIPs": "[] merge:ip",
        "resourceClaimStatuses": "[] merge:name retainKeys",
    },
    "ServiceSpec": {"ports": "[] merge:port"},
    "NodeSpec": {"podCIDRs": "[] merge"},
    "NodeStatus": {"conditions": "[] merge:type", "addresses": "[] merge:type"},
    "DeploymentSpec": {"template": "PodTemplateSpec",
                       "strategy": "DeploymentStrategy retainKeys"},
    "ReplicaSetSpec": {"template": "PodTemplateSpec"},
    # the kinds kfs serves (kfs/resources.py)
    "Pod": {**_OBJECT, "spec": "PodSpec", "status": "PodStatus"},
    "Service": {**_OBJECT, "spec": "ServiceSpec", "status": "ServiceStatus"},
    "ServiceStatus": _CONDITIONS,
    "Node": {**_OBJECT, "spec": "NodeSpec", "status": "NodeStatus"},
    "Namespace": {**_OBJECT, "status": "NamespaceStatus"},  # spec.finalizers: atomic
    "NamespaceStatus": _CONDITIONS,
    "Deployment": {**_OBJECT, "spec": "DeploymentSpec", "status": "DeploymentStatus"},
    "DeploymentStatus": _CONDITIONS,
    "ReplicaSet": {**_OBJECT, "spec": "ReplicaSetSpec", "status": "ReplicaSetStatus"},
    "ReplicaSetStatus": _CONDITIONS,
    "Endpoints": _OBJECT, "EndpointSlice": _OBJECT, "Event": _OBJECT, "Lease": _OBJECT, "Scale": _OBJECT,
    "Role": _OBJECT, "RoleBinding": _OBJECT,
    "ClusterRole": _OBJECT, "ClusterRoleBinding": _OBJECT,
}


@dataclass(frozen=True)
class Field:
    type: str = None     # the struct type of the value, or of a list's elements
    merge: bool = False  # a list with patchStrategy merge (else replaced whole)
    key: str = None      # ... merged by this key; None: a set of primitives
    retain_keys: bool = False  # kubectl sends $retainKeys (the OpenAPI's patch strategy)


def _parse(spec):
    type_, *strategies = spec.split()
    merge = next((s for s in strategies if s.startswith("merge")), None)
    return Field(type_.removeprefix("[]") or None, merge is not None,
                 merge.partition(":")[2] or None if merge else None,
                 "retainKeys" in strategies)


SCHEMA = {name: {f: _parse(spec) for f, spec in fields.items()}
          for name, fields in STRUCTS.items()}


def field(struct, name):
    """How field `name` of Go type `struct` patches: Field() if nothing special."""
    return SCHEMA.get(struct, {}).get(name, Field())


# -- strategic merge patch -------------------------------------------------------------------

def strategic_merge(original: dict, patch: dict, api_version: str, kind: str) -> dict:
    """Apply a strategic merge patch (``application/strategic-merge-patch+json``).

    `kind` picks the merge keys from ``STRUCTS`` (kind names are unique among what kfs
    serves, so `api_version` is not needed yet); an unknown kind patches like a JSON merge
    patch that understands the directives. Inputs are not modified.
    """
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return _merge_map(copy.deepcopy(original or {}), copy.deepcopy(patch), kind)


def _merge_map(original, patch, struct):
    """Merge `patch` into `original` (both ours to change), as upstream's mergeMap."""
    if DIRECTIVE in patch:
        how = patch.pop(DIRECTIVE)
        if how == "delete":
            return {}
        if how == "replace":
            original = {}
        elif how != "merge":
            raise PatchError(f'unknown $patch directive "{how}" in a map')
    _retain_keys(original, patch)
    for key in [k for k in patch if k.startswith(SET_ORDER)]:
        _set_element_order(original, patch, key, struct)
    deletions = {k: patch.pop(k) for k in list(patch) if k.startswith(DELETE_FROM)}
    for key, value in patch.items():
        if key.startswith("$"):
            raise PatchError(f'unknown patch directive "{key}"')
        merged = _merge_value(original.get(key), value, field(struct, key))
        if merged is None:
            original.pop(key, None)
        else:
            original[key] = merged
    for key, values in deletions.items():
        _delete_from_primitive_list(original, key, values)
    return original


def _merge_value(before, value, f):
    """The new value of a field: None deletes it."""
    if isinstance(value, dict):
        if isinstance(before, dict):
            return _merge_map(before, value, f.type)
        if value.get(DIRECTIVE) == "delete":
            return None  # nothing there to delete
        return _merge_map({}, value, f.type)
    if isinstance(value, list):
        if f.merge:
            return _merge_list(before if isinstance(before, list) else [], value, f)
        return _fresh_items(value, f.type)
    return value


def _fresh_items(items, struct):
    """A list replacing another whole: directives stripped, elements carrying one dropped."""
    return [_merge_map({}, x, struct) if isinstance(x, dict) else x
            for x in items if not (isinstance(x, dict) and DIRECTIVE in x)]


def _merge_list(before, patch, f):
    """Merge a list with patchStrategy merge: by f.key, or as a set of primitives."""
    _check_elements(before + patch)
    if not any(isinstance(x, dict) for x in before + patch):
        return _order(_unique(before + patch), patch, before, None)
    if f.key is None:
        raise PatchError("cannot merge a list of objects without a merge key")
    before, patch = _list_directives(before, patch, f)
    merged = list(before)
    for item in patch:
        i = _find(merged, f.key, _ident(item, f.key))
        if i is None:
            merged.append(_merge_map({}, item, f.type))
        else:
            merged[i] = _merge_map(merged[i], item, f.type)
    return _order(merged, patch, before, f.key)


def _list_directives(before, patch, f):
    """Apply the $patch elements of a merging list: (what is left of before, plain items)."""
    plain, replace = [], False
    for item in patch:
        how = item.pop(DIRECTIVE, None)
        if how in (None, "merge"):
            plain.append(item)
        elif how == "delete":
            gone = _ident(item, f.key)
            before = [x for x in before if not (isinstance(x, dict) and x.get(f.key) == gone)]
        elif how == "replace":
            replace = True
        else:
            raise PatchError(f'unknown $patch directive "{how}" in a list')
    if replace:
        return _fresh_items(plain, f.type), []
    return before, plain


def _set_element_order(original, patch, key, struct):
    """$setElementOrder/<field>: merge that field now, then put it in the given order."""
    order, name = patch.pop(key), key[len(SET_ORDER):]
    if not isinstance(order, list) or not name:
        raise PatchError(f"{key} must name a field and hold a list")
    present = name in patch
    f, before, value = field(struct, name), original.get(name), patch.pop(name, [])
    if not isinstance(value, list) or not isinstance(before, (list, type(None))):
        raise PatchError(f'{key} applies to "{name}", which is not a list')
    _check_order(value, order, f.key)
    if before is None and not present:
        return
    merged = _merge_value(before, value, f) if present else before
    original[name] = _order(merged, order, before or [], f.key)


def _check_order(items, order, key):
    """Every patch item must appear in the $setElementOrder list, in the same order."""
    ids, at = [_ident(x, key) for x in order], 0
    for item in items:
        if isinstance(item, dict) and DIRECTIVE in item:
            continue
        try:
            at = ids.index(_ident(item, key), at) + 1
        except ValueError:
            raise PatchError(f"the order in the patch list {items} doesn't match the "
                             f"$setElementOrder list {order}") from None


def _retain_keys(original, patch):
    """$retainKeys: drop every key of `original` not listed; the patch may set only those."""
    keep = patch.pop(RETAIN_KEYS, None)
    if keep is None:
        return
    if not isinstance(keep, list):
        raise PatchError("$retainKeys must be a list of field names")
    for k, v in patch.items():
        if v is not None and not k.startswith((SET_ORDER, DELETE_FROM)) and k not in keep:
            raise PatchError(f'"{k}" is set by the patch but missing from its $retainKeys')
    for k in [k for k in original if k not in keep]:
        del original[k]


def _delete_from_primitive_list(original, key, values):
    name = key[len(DELETE_FROM):]
    if not isinstance(values, list) or not name:
        raise PatchError(f"{key} must name a field and hold a list")
    if isinstance(original.get(name), list):
        original[name] = [x for x in original[name] if x not in values]


# -- list helpers: upstream's normalizeElementOrder and mergeSortedSlice ----------------------

def _order(merged, order, server, key):
    """Items named in `order` in that order; the others keep their server order between them.

    As upstream: walk both sorted lists, taking a server-only item first only while it
    stood before the next ordered item on the server; so new items come before the
    server-only items that follow them (a hand-written patch adding a container puts it
    first; kubectl's $setElementOrder says where it goes).
    """
    wanted = [_ident(x, key) for x in order]
    seen = [_loose_ident(x, key) for x in server]
    first = sorted((x for x in merged if _loose_ident(x, key) in wanted),
                   key=lambda x: wanted.index(_loose_ident(x, key)))
    rest = sorted((x for x in merged if _loose_ident(x, key) not in wanted),
                  key=lambda x: _index(seen, _loose_ident(x, key), len(seen)))
    out = []
    while first and rest:
        left = _index(seen, _loose_ident(rest[0], key), -1)
        right = _index(seen, _loose_ident(first[0], key), -1)
        out.append((rest if 0 <= left < right else first).pop(0))
    return out + first + rest


def _ident(item, key):
    """What identifies a patch item: its merge key's value (or itself, for primitives)."""
    if key is None:
        return item
    if not isinstance(item, dict) or key not in item:
        raise PatchError(f'{item} does not contain declared merge key "{key}"')
    return item[key]


def _loose_ident(item, key):
    return item.get(key) if key and isinstance(item, dict) else item


def _index(ids, ident, missing):
    return ids.index(ident) if ident in ids else missing


def _find(items, key, ident):
    return next((i for i, x in enumerate(items)
                 if isinstance(x, dict) and key in x and x[key] == ident), None)


def _unique(items):
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def _check_elements(items):
    if any(isinstance(x, list) for x in items):
        raise PatchError("lists of lists cannot be merged")
    if len({isinstance(x, dict) for x in items}) > 1:
        raise PatchError("a merging list mixes objects and plain values")


# -- JSON merge patch, JSON patch, apply -------------------------------------------------------

def json_merge(original: dict, patch: dict) -> dict:
    """RFC 7386 JSON merge patch (``application/merge-patch+json``): maps merge, null
    deletes, everything else (lists included) replaces. Inputs are not modified."""
    if not isinstance(patch, dict):
        raise PatchError("a JSON merge patch must be a JSON object")
    return _merge_patch(copy.deepcopy(original) if isinstance(original, dict) else {}, patch)


def _merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    target = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge_patch(target.get(key), value)
    return target


def json_patch(original: dict, operations: list) -> dict:
    """RFC 6902 JSON patch (``application/json-patch+json``): a list of add, remove,
    replace, move, copy and test operations, applied in order, all or nothing."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a JSON array of operations")
    try:
        result = jsonpatch.apply_patch(original, operations)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as err:
        raise PatchError(str(err)) from None
    if not isinstance(result, dict):
        raise PatchError("the patched document is not a JSON object")
    return result


def apply(live: dict | None, applied: dict, api_version: str, kind: str) -> dict:
    """Server-side apply (``application/apply-patch+yaml``), creating or updating.

    No live object: the applied configuration is the object. Otherwise the applied
    configuration is merged onto the live object with strategic-merge semantics: its
    fields win, lists with merge keys merge by key, fields it leaves out are kept.

    Real server-side apply records which manager owns each field in
    ``metadata.managedFields``: it removes a field its manager applied before and no
    longer applies, and refuses (409 Conflict) to change a field another manager owns
    unless forced. kfs tracks no ownership: a field left out of the configuration stays.
    """
    if not isinstance(applied, dict):
        raise PatchError("an apply configuration must be a JSON object")
    where = _directive_in(applied)
    if where:
        raise PatchError(f'an apply configuration cannot hold the patch directive "{where}"')
    return strategic_merge(live or {}, applied, api_version, kind)


def _directive_in(value):
    """The first ``$`` key anywhere in `value`, or None."""
    if isinstance(value, dict):
        found = (k if k.startswith("$") else _directive_in(v) for k, v in value.items())
    elif isinstance(value, list):
        found = (_directive_in(v) for v in value)
    else:
        return None
    return next((f for f in found if f), None)
