"""Notebook 02's answers."""


def registry_key(plural, namespace, name):
    prefix = {"nodes": "/registry/minions"}.get(plural, f"/registry/{plural}")
    return "/".join([prefix, *([namespace] if namespace else []), name])
