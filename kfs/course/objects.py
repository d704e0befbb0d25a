"""The Events about one object, as ``kubectl describe`` lists them."""


def events(api, obj, reason=None, namespace=None):
    """The Events about `obj` (matched by uid: a deleted and re-made namesake is another
    object), oldest first; only those with `reason` if given."""
    ns = namespace or obj["metadata"].get("namespace", "default")
    uid = obj["metadata"]["uid"]
    return sorted((e for e in api.list("events", ns)["items"]
                   if e["involvedObject"].get("uid") == uid
                   and (reason is None or e.get("reason") == reason)),
                  key=lambda e: e.get("firstTimestamp") or "")
