"""The kinds the API server serves: one module per kind, holding all of that kind's rules.

To understand a kind, read its module. ``kinds/pod.py`` says how a Pod is defaulted, what
the server fills in when one is created and keeps when one is updated, what makes one
invalid, which field selectors it answers, how ``kubectl get`` prints it, and what storage
does for it alone (graceful deletion, the ``binding`` and ``log`` subresources). Each module
defines one subclass of `Kind`, named ``KIND``; the generic machinery (``admission``,
``strategy``, ``registry``, ``handlers``, ``tables``) calls its hooks and knows no kind by name.

A kind's module is found by its name: the rules of ``Pod`` are in ``kinds/pod.py``, those of
``EndpointSlice`` in ``kinds/endpointslice.py``. Two modules hold what several kinds share:
``apps`` (Deployments and ReplicaSets) and ``rbac`` (Roles, bindings).

**Adding a kind**: (1) its `Resource` in ``kfs/resources.py`` — what discovery publishes
and where etcd keeps it, the vocabulary clients share; (2) ``kinds/<kind>.py`` with a
``KIND``; (3) ``tests/unit/kinds/test_<kind>.py``; (4) ``python -m kfs.apiserver.kinds``
to regenerate the schema data (schema.json, protobuf_schema.json, openapi_docs.json; and
RBAC in ``policy.py`` for the components that use it).

Where upstream keeps each part of a kind (kfs keeps them together, for a reader):

| hook                                   | upstream                                             |
|----------------------------------------|------------------------------------------------------|
| `default`                              | ``pkg/apis/<group>/v1/defaults.go`` (SetDefaults_*)  |
| `prepare_for_create`, `_update`,       | ``pkg/registry/<group>/<kind>/strategy.go``          |
| `prepare_for_status_update`            |   (PrepareForCreate, PrepareForUpdate, status strategy) |
| `validate`, `validate_update`, ...     | ``pkg/apis/<group>/validation``, called by the strategy |
| `field_selectors`                      | the strategy's GetAttrs + ``pkg/apis/<group>/v1/conversion.go`` |
| `columns`, `print_row`                 | ``pkg/printers/internalversion/printers.go``         |
| storage hooks (`before_create`, ...)   | ``pkg/registry/<group>/<kind>/storage/storage.go``   |

What real Kubernetes does differently: a kind is a Go type with generated defaulters,
conversions and deep copies, registered in a scheme; its REST storage is a generic
``registry.Store`` configured with the strategy, and the subresources are separate storage
objects whose interfaces (Getter, Creater, Connecter) decide the routes.
"""
import importlib
from functools import lru_cache

from kfs import meta, resources
from kfs.apiserver import schema, tables
from kfs.apiserver.validation.fields import (
    name_is_subdomain, validate_object_meta, validate_object_meta_update)


class Kind:
    """The rules of one kind. Subclasses override what their kind does differently."""

    api_version = None
    kind = None
    resource = None          # its kfs.resources.Resource (None: only a subresource's kind)
    schema_root = None       # its root type in schema.json, if not V1<Kind>
    name_rule = staticmethod(name_is_subdomain)   # None: no metadata checks (Binding)
    generation = False       # metadata.generation counts spec changes
    field_selectors = {}     # alias -> path in the object (None: the alias is the path)
    field_defaults = {}      # what a selector sees where the field is unset
    columns = tables.DEFAULT_COLUMNS
    create_on_update = False  # a PUT of a missing object creates it
    returns_deleted = False  # DELETE answers the deleted object (else a Status)
    create_subresources = ()  # POST .../<name>/<sub> (pods/binding)
    also_accepts = ()        # other apiVersions a body of this kind may come in (AcceptsGroupVersion)
    connect_subresources = ()  # GET .../<name>/<sub>, proxied to a kubelet (pods/log)
    upgrade_subresources = ()  # ... of those, upgraded to a stream, GET or POST (pods/exec)
    status_subresources = ()  # other subresources that write a part of the status (csr/approval)

    def __init__(self, server=None):
        """`server` (a `ServerConfig`) is given only inside the API server, for the storage
        hooks that keep state (a Service's allocator, an Event's TTL)."""
        self.server = server

    @property
    def schema_type(self):
        return self.schema_root or schema.root_type(self.api_version, self.kind)

    @property
    def namespaced(self):
        return self.resource.namespaced if self.resource else True

    @property
    def has_status(self):
        return bool(self.resource) and "status" in self.resource.subresources

    # -- admission: defaults, strategy, validation ------------------------------------------

    def default(self, obj):
        """SetDefaults_<Kind>: fill in what the client left out, in place."""

    def prepare_for_create(self, obj):
        """The kind's PrepareForCreate, after the system fields are set."""

    def prepare_for_create_as(self, obj, user):
        """What create fills in from the requesting `user` (a ``kfs.apiserver.authn.User``;
        upstream reads it from the request context in PrepareForCreate): a CSR's requester."""

    def prepare_for_update(self, new, old):
        """The kind's PrepareForUpdate of the main resource (status already kept)."""

    def prepare_for_subresource_update(self, subresource, new, old):
        """PrepareForUpdate of one of the `status_subresources` (spec already kept)."""

    def prepare_for_status_update(self, new, old):
        """The status strategy's PrepareForUpdate (spec already kept)."""

    def spec_changed(self, new, old):
        """Does this update move metadata.generation?"""
        return new.get("spec") != old.get("spec")

    def validate(self, obj):
        """The causes why `obj` is invalid (without its metadata, checked generically)."""
        return []

    def validate_update(self, new, old):
        """What may not change on an update (immutable fields)."""
        return []

    def validate_status_update(self, new, old):
        return []

    def validate_subresource_update(self, subresource, new, old):
        """The causes of an update through another subresource (pods/ephemeralcontainers),
        or None: validated as an update of the main resource (scale)."""
        return None

    def causes(self, obj, old=None, subresource=None):
        """Everything wrong with `obj` (an update of `old` through `subresource`): [] if fine."""
        md = obj.get("metadata") or {}
        if old is None:
            errs = validate_object_meta(md, self.namespaced, self.name_rule) if self.name_rule \
                else []
            return errs + self.validate(obj)
        errs = validate_object_meta_update(md, old.get("metadata") or {})
        if subresource == "status":
            return errs + self.validate_status_update(obj, old)
        sub_errs = self.validate_subresource_update(subresource, obj, old) if subresource \
            else None
        if sub_errs is not None:
            return errs + sub_errs
        return errs + self.validate(obj) + self.validate_update(obj, old)

    # -- reads: field selectors, tables -------------------------------------------------------

    def field_path(self, selector_field):
        """The object path a field selector names, or None if the kind does not support it."""
        if selector_field in ("metadata.name", "metadata.namespace"):
            return selector_field
        if selector_field in self.field_selectors:
            return self.field_selectors[selector_field] or selector_field
        return None

    def print_row(self, obj, now):
        """The cells of `obj`'s row in ``kubectl get`` (default: NAME, CREATED AT)."""
        return [meta.name(obj), (obj.get("metadata") or {}).get("creationTimestamp") or "<unknown>"]

    def row_conditions(self, obj):
        """Table row conditions (``Completed`` rows ``kubectl get`` hides), or None."""
        return None

    # -- subresources -------------------------------------------------------------------------

    def to_subresource(self, subresource, obj):
        """What a GET (or a write's answer) of `subresource` returns for `obj`."""
        return obj

    def from_subresource(self, subresource, current, body):
        """The whole object after a write of `body` through `subresource`."""
        return body

    def subresource_kind(self, subresource):
        """(kind, apiVersion) of what a write through `subresource` sends."""
        kind, group, version = self.resource.subresources.get(subresource) or ("", "", "")
        if not kind:
            return self.kind, self.api_version
        return kind, f"{group}/{version}" if group else version

    def create_subresource(self, registry, subresource, namespace, name, body, dry_run):
        """POST to a create subresource (`create_subresources`)."""
        raise NotImplementedError(subresource)

    def subresource_change(self, subresource, name, body):
        """If a create subresource is only a read-modify-write of its object (a binding):
        the change, `change(current) -> new`, which the API server may await on its event
        loop; else None (`create_subresource` does the work, in the thread pool)."""
        return None

    def connect(self, registry, subresource, namespace, name, query):
        """The kubelet URL a connect subresource (`connect_subresources`) is proxied to."""
        raise NotImplementedError(subresource)

    # -- storage hooks (the Registry calls them) -------------------------------------------------

    def storage_ttl(self):
        """Seconds after which etcd forgets a created object (None: never)."""
        return None

    def create_reads_storage(self):
        """Does this kind's `before_create` call etcd (a ClusterIP)? If not, the API server
        may await the create on its event loop, no thread hop."""
        return type(self).before_create is not Kind.before_create

    def before_create(self, registry, obj, dry_run):
        """Claim what the object needs (a ClusterIP...); returns an undo function or None."""
        return None

    def before_update(self, registry, new, old, subresource, dry_run):
        """The same for an update, inside the update's retry loop."""

    def after_update(self, registry, new, old):
        """After a successful update: release what `old` held and `new` does not."""

    def check_delete(self, name):
        """Refuse a DELETE before anything happens (raise a StatusError)."""

    def delete_grace_period(self, obj, options):
        """Seconds of graceful deletion this DELETE asks for; 0: delete now."""
        return 0

    def before_delete(self, registry, obj):
        """Just before the object leaves etcd."""

    def after_delete(self, registry, obj):
        """After the object left etcd."""

    def admission_plugins(self):
        """Admission checks this kind brings for every create (NamespaceLifecycle)."""
        return []


class Unknown(Kind):
    """A kind kfs has no rules for: nothing defaulted, everything valid."""

    name_rule = None


def _module_name(kind):
    return f"{__name__}.{kind.lower()}"


@lru_cache(maxsize=None)
def _kind_class(api_version, kind):
    try:
        module = importlib.import_module(_module_name(kind))
    except ModuleNotFoundError as e:
        if e.name == _module_name(kind):
            return Unknown
        raise
    cls = getattr(module, "KIND", None)
    if cls is None or cls.api_version != api_version:
        return Unknown
    return cls


@lru_cache(maxsize=None)
def lookup(api_version, kind):
    """The rules of a kind (an instance without server state), or `Unknown`'s."""
    cls = _kind_class(api_version, kind)
    k = cls()
    if cls is Unknown:
        k.api_version, k.kind = api_version, kind
    else:
        k.resource = _resource(api_version, kind)
    return k


def _resource(api_version, kind):
    try:
        return resources.for_object({"apiVersion": api_version, "kind": kind})
    except resources.UnknownResource:
        return None


def for_object(obj):
    return lookup(obj.get("apiVersion"), obj.get("kind"))


def for_resource(resource):
    return lookup(resource.api_version, resource.kind)


class ServerConfig:
    """What the stateful storage hooks need from the API server they run in."""

    def __init__(self, storage, service_cidr="10.96.0.0/12", node_ports="30000-32767",
                 event_ttl=3600):
        self.storage, self.service_cidr, self.node_ports = storage, service_cidr, node_ports
        self.event_ttl = event_ttl


def with_rules():
    """(apiVersion, kind) of every served kind and of the kinds its subresources take (a
    connect subresource takes none: PodExecOptions are query parameters, not a body)."""
    served = {(r.api_version, r.kind) for r in resources.RESOURCES}
    taken = {(f"{group}/{version}" if group else version, kind)
             for r in resources.RESOURCES
             for sub, (kind, group, version) in r.subresources.items()
             if kind and sub not in _kind_class(r.api_version, r.kind).connect_subresources}
    return sorted(served | taken)


def for_server(config):
    """{plural: Kind} for every served resource, with its server state (one per server)."""
    out = {}
    for r in resources.RESOURCES:
        k = _kind_class(r.api_version, r.kind)(config)
        k.resource = r
        out[r.plural] = k
    return out


# -- the vocabulary of tests and notebooks: a kind's rules by the object's kind --------------

def default(obj):
    for_object(obj).default(obj)


def validate(obj, old=None, subresource=None):
    """The causes (``details.causes`` of a 422) why `obj` may not be stored; [] if it may."""
    return for_object(obj).causes(obj, old, subresource)
