"""The plugin set: upstream's default order, and every plugin shaped alike.

Each plugin's own verdicts and hints are in test_scheduler_plugin_<name>.py.
"""
import importlib

from kfs.scheduler import plugins
from kfs.scheduler.framework import Plugin


def test_filters_run_in_upstreams_default_order():
    assert [p.name for p in plugins.FILTERS] == [
        "NodeUnschedulable", "NodeName", "TaintToleration", "NodeReady", "NodeAffinity",
        "NodePorts", "NodeResourcesFit"]


def test_every_plugin_has_a_docstring_naming_it():
    for p in plugins.FILTERS + plugins.default_scores():
        assert isinstance(p, Plugin) and type(p).__doc__.startswith(p.name), p.name


def test_every_plugin_module_cites_upstream_and_says_what_differs():
    for p in plugins.FILTERS + plugins.default_scores():
        doc = importlib.import_module(type(p).__module__).__doc__
        assert "What real Kubernetes does differently" in doc, p.name
        assert "pkg/" in doc, p.name  # the upstream file it mirrors


def test_every_filter_registers_the_events_that_can_help_the_pods_it_rejects():
    for p in plugins.FILTERS:
        registered = p.events_to_register()
        assert registered and all(r.event.resource != "*" for r in registered), p.name


def test_scores_have_their_default_weights():
    assert [(p.name, p.weight) for p in plugins.default_scores()] == [
        ("NodeResourcesLeastAllocated", 1), ("SelectorSpread", 2)]
