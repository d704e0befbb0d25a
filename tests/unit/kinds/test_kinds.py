"""The kinds package as a whole: every served kind has its module, its schema and protobuf
types, and the generic machinery (registry, handlers) names none of them."""
import ast
import re
from pathlib import Path

import pytest

from kfs import resources
from kfs.apiserver import kinds, protobuf, schema
from kfs.apiserver.kinds.namespace import Lifecycle
from kfs.apiserver.errors import StatusError
from kfs.apiserver.registry import Registry

APISERVER = Path(kinds.__file__).resolve().parent.parent
SERVED = [(r.api_version, r.kind) for r in resources.RESOURCES]


@pytest.mark.parametrize("api_version, kind", SERVED, ids=[k for _, k in SERVED])
def test_every_served_kind_has_its_module_named_after_it(api_version, kind):
    rules = kinds.lookup(api_version, kind)
    assert type(rules) is not kinds.Unknown, f"no kfs/apiserver/kinds/{kind.lower()}.py with KIND"
    assert (rules.api_version, rules.kind) == (api_version, kind)
    assert rules.resource is resources.for_object({"apiVersion": api_version, "kind": kind})


@pytest.mark.parametrize("api_version, kind", kinds.with_rules(),
                         ids=[k for _, k in kinds.with_rules()])
def test_every_kind_with_rules_has_a_schema_type_and_a_protobuf_message(api_version, kind):
    assert kinds.lookup(api_version, kind).schema_type in schema.schema()
    assert protobuf.message_name(api_version, kind) in protobuf.schema()


def test_a_kind_kfs_does_not_serve_is_unknown_and_has_no_rules():
    widget = kinds.lookup("example.com/v1", "Widget")
    assert type(widget) is kinds.Unknown
    assert widget.causes({"metadata": {}}) == [] and widget.field_path("spec.x") is None


def _code_words(path):
    """Identifiers and the words of string constants, docstrings and comments left out."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            yield from re.findall(r"[A-Za-z]+", node.value)
        elif isinstance(node, ast.Name):
            yield node.id
        elif isinstance(node, ast.Attribute):
            yield node.attr


@pytest.mark.parametrize("module", ["registry.py", "handlers.py"])
def test_the_registry_and_the_handlers_name_no_kind(module):
    names = {r.kind for r in resources.RESOURCES} | {r.plural for r in resources.RESOURCES}
    names |= {k for r in resources.RESOURCES for k, _, _ in r.subresources.values() if k}
    named = sorted({w for w in _code_words(APISERVER / module)} & names)
    assert named == [], f"{module} names kinds {named}: put the rule in kfs/apiserver/kinds/"


def test_only_the_servers_kinds_carry_state():
    service = kinds.for_server(kinds.ServerConfig(storage=None))["services"]
    assert service.allocator is not None and service.resource.plural == "services"
    assert kinds.lookup("v1", "Service").allocator is None


class _Namespaces:
    """Just enough registry for NamespaceLifecycle: namespaces by name."""

    def __init__(self, **phases):
        self.phases, self.reads = phases, 0

    def get(self, resource, namespace, name):
        self.reads += 1
        if name not in self.phases:
            raise StatusError(404, "NotFound", f'namespaces "{name}" not found')
        return {"metadata": {"name": name}, "status": {"phase": self.phases[name]}}


def test_namespace_lifecycle_refuses_creates_into_a_missing_or_terminating_namespace():
    lifecycle, registry = Lifecycle(), _Namespaces(team="Active", old="Terminating")
    pods = resources.lookup("pods")
    lifecycle.admit(registry, pods, "team")
    with pytest.raises(StatusError) as missing:
        lifecycle.admit(registry, pods, "nope")
    with pytest.raises(StatusError) as terminating:
        lifecycle.admit(registry, pods, "old")
    assert missing.value.code == 404 and terminating.value.code == 403
    assert "because it is being terminated" in terminating.value.message


def test_namespace_lifecycle_trusts_a_namespace_it_saw_for_a_few_seconds_only():
    now = [0.0]
    lifecycle, registry = Lifecycle(clock=lambda: now[0]), _Namespaces(team="Active")
    pods = resources.lookup("pods")
    lifecycle.admit(registry, pods, "team")
    lifecycle.admit(registry, pods, "team")
    assert registry.reads == 1
    now[0] = 10.0
    lifecycle.admit(registry, pods, "team")
    assert registry.reads == 2
    lifecycle.admit(registry, resources.lookup("nodes"), None)   # cluster-scoped: no check
    assert registry.reads == 2


class _Leases:
    """Just enough storage for `Registry.creates_inline`: the lease it holds, if any."""

    def __init__(self):
        self.held = None

    def cached_lease(self, ttl, margin=0.0):
        return self.held


def test_a_create_leaves_the_event_loop_only_when_its_hooks_or_admission_reach_etcd():
    leases = _Leases()
    registry = Registry(leases, kinds.for_server(kinds.ServerConfig(None)))
    lifecycle = registry.kinds["namespaces"].lifecycle
    pods, nodes = resources.lookup("pods"), resources.lookup("nodes")
    assert registry.creates_inline(nodes, None)  # no hook, no namespace to check
    assert not registry.creates_inline(pods, "team")  # NamespaceLifecycle must read "team"
    lifecycle.admit(_Namespaces(team="Active"), pods, "team")
    assert registry.creates_inline(pods, "team")  # ... seen it: nothing to read
    assert not registry.creates_inline(resources.lookup("services"), "team")  # a ClusterIP
    assert not registry.creates_inline(resources.lookup("events"), "team")  # a lease to grant
    leases.held = 7
    assert registry.creates_inline(resources.lookup("events"), "team")  # ... one to share


def test_namespace_lifecycle_says_when_it_would_read_the_namespace():
    now = [0.0]
    lifecycle, pods = Lifecycle(clock=lambda: now[0]), resources.lookup("pods")
    assert lifecycle.reads_storage(pods, "team")
    assert not lifecycle.reads_storage(resources.lookup("nodes"), None)
    lifecycle.admit(_Namespaces(team="Active"), pods, "team")
    assert not lifecycle.reads_storage(pods, "team")
    now[0] = 10.0
    assert lifecycle.reads_storage(pods, "team")
