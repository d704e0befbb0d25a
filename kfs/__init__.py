"""kfs: Kubernetes from scratch, one component at a time.

A flat public API, imported lazily (``kfs.bootstrap`` must run before any dependency is
installed, so importing ``kfs`` imports nothing heavy):

    import kfs
    lab = kfs.Lab().up(stage="machines")
    kfs.viz.topology(lab)
"""
import importlib

_EXPORTS = {
    "Lab": "kfs.lab.lab",
    "LabError": "kfs.lab.errors",
    "STAGES": "kfs.lab.stages",
}
_SUBMODULES = {"viz", "course", "images", "lab", "versions"}

__all__ = sorted([*_EXPORTS, *_SUBMODULES])


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"kfs.{name}")
    raise AttributeError(f"module 'kfs' has no attribute {name!r}")
