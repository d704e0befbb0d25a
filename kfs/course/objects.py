"""The Events about one object, as ``kubectl describe`` lists them; and what a notebook says
before it deletes an object it did not make (``./demo.sh``'s Deployment ``echo``)."""


def events(api, obj, reason=None, namespace=None):
    """The Events about `obj` (matched by uid: a deleted and re-made namesake is another
    object), oldest first; only those with `reason` if given."""
    ns = namespace or obj["metadata"].get("namespace", "default")
    uid = obj["metadata"]["uid"]
    return sorted((e for e in api.list("events", ns)["items"]
                   if e["involvedObject"].get("uid") == uid
                   and (reason is None or e.get("reason") == reason)),
                  key=lambda e: e.get("firstTimestamp") or "")


def say_before_deleting(api, resource, name, why, namespace="default"):
    """If `resource` `name` exists, say that the next step deletes it and `why`, before it
    does: a notebook never silently removes what the attendee or ``./demo.sh`` made. True if
    it exists."""
    from kfs.client import ApiError
    try:
        api.get(resource, name, namespace)
    except ApiError as e:
        if e.not_found:
            return False
        raise
    print(f"{resource.removesuffix('s')}/{name} exists already (from ./demo.sh or an earlier "
          f"run): deleting it, {why}")
    return True
