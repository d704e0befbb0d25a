"""kfs's strategic merge against upstream's own: the real kubectl as the judge.

``kubectl patch --local -f - --type strategic -p PATCH -o json`` runs apimachinery's
strategicpatch with the merge keys from the Go types' struct tags, without a server. Every
case of test_patch.STRATEGIC (except the ones kfs does differently on purpose) must come
out the same, which checks both the algorithm and kfs's hand-written merge-key table.
"""
import json
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kfs.apiserver.patch import strategic_merge
from kfs.resources import RESOURCES
from tests.unit.test_patch import ERROR_ORIGINAL, KFS_ONLY, STRATEGIC, STRATEGIC_ERRORS

KUBECTL = next((p for p in ("/usr/lib/google-cloud-sdk/bin/kubectl.1.32",
                            shutil.which("kubectl")) if p and Path(p).exists()), None)
API_VERSIONS = {**{r.kind: r.api_version for r in RESOURCES}, "Scale": "autoscaling/v1"}

pytestmark = pytest.mark.skipif(KUBECTL is None, reason="needs a real kubectl")


def typed(kind, obj):
    return {"apiVersion": API_VERSIONS[kind], "kind": kind, **obj}


def kubectl_patch(kind, original, patch, home):
    """(ok, upstream's patched object or its error message)."""
    run = subprocess.run([KUBECTL, "patch", "--local", "-f", "-", "--type", "strategic",
                          "-p", json.dumps(patch), "-o", "json"],
                         input=json.dumps(typed(kind, original)), capture_output=True,
                         text=True, timeout=30,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(home),
                              "KUBECONFIG": str(home / "none")})
    return (True, json.loads(run.stdout)) if run.returncode == 0 else (False, run.stderr)


def as_stored(value):
    """What the real API server stores after decoding into Go structs: no nulls, no
    directives (upstream leaves both in new list elements, e.g. $setElementOrder/env in a
    new container; decoding drops them)."""
    if isinstance(value, dict):
        return {k: as_stored(v) for k, v in value.items()
                if v is not None and not k.startswith("$")}
    if isinstance(value, list):
        return [as_stored(v) for v in value]
    return value


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    """Every case run through kubectl at once: {case id: (ok, result)}."""
    home = tmp_path_factory.mktemp("kubectl-home")
    jobs = {p.id: p.values[:3] for p in STRATEGIC if p.id not in KFS_ONLY}
    jobs.update({f"error:{p.id}": ("Pod", ERROR_ORIGINAL, p.values[0])
                 for p in STRATEGIC_ERRORS})
    with ThreadPoolExecutor(8) as pool:
        futures = {id_: pool.submit(kubectl_patch, *job, home) for id_, job in jobs.items()}
        return {id_: f.result() for id_, f in futures.items()}


@pytest.mark.parametrize("kind, original, patch, expected",
                         [p for p in STRATEGIC if p.id not in KFS_ONLY])
def test_kfs_merges_as_upstream_kubectl_does(upstream, request, kind, original, patch,
                                             expected):
    ok, theirs = upstream[request.node.callspec.id]
    assert ok, theirs
    ours = strategic_merge(typed(kind, original), patch, API_VERSIONS[kind], kind)
    assert ours == as_stored(theirs)


# kfs refuses these, upstream passes them through: no directive may reach storage
LENIENT_UPSTREAM = {"an-unknown-directive", "a-delete-from-primitive-list-that-is-not-a-list"}


@pytest.mark.parametrize("patch, fragment",
                         [p for p in STRATEGIC_ERRORS if p.id not in LENIENT_UPSTREAM])
def test_patches_kfs_refuses_upstream_refuses_too(upstream, request, patch, fragment):
    ok, theirs = upstream[f"error:{request.node.callspec.id}"]
    assert not ok, theirs


# -- random kubectl-shaped patches ----------------------------------------------------------

def random_container(r, name):
    return {"name": name, "image": f"{name}:{r.randint(1, 3)}",
            "env": [{"name": e, "value": str(r.randint(0, 9))} for e in r.sample("ABC", 2)],
            "ports": [{"containerPort": p} for p in r.sample([80, 81, 82], r.randint(1, 2))]}


def random_items(r, names, change, key="name"):
    """Some of `names`, each deleted ($patch: delete) or changed; and maybe their order."""
    items = [{key: n, "$patch": "delete"} if r.random() < .25 else change(n)
             for n in r.sample(names, r.randint(1, len(names)))]
    kept = [i[key] for i in items if "$patch" not in i]
    order = list(kept)
    for n in (n for n in names if n not in kept and r.random() < .5):
        order.insert(r.randint(0, len(order)), n)
    return items, [{key: n} for n in order] if r.random() < .6 else None


def random_patch(r, pod):
    live = [c["name"] for c in pod["spec"]["containers"]]

    def change(name):
        if name not in live:
            return random_container(r, name)
        env, env_order = random_items(r, list("ABCD"), lambda e: {"name": e, "value": "x"})
        return {"name": name, "image": f"{name}:9", "env": env,
                **({"$setElementOrder/env": env_order} if env_order else {})}

    containers, order = random_items(r, list("abcde"), change)
    spec = {"containers": containers, **({"$setElementOrder/containers": order} if order else {})}
    add = r.sample(["f/4", "f/5"], r.randint(1, 2))
    metadata = {"labels": {"x": None, "z": "3"}, "finalizers": add,
                "$deleteFromPrimitiveList/finalizers": r.sample(["f/1", "f/2"], 1),
                "$setElementOrder/finalizers": ["f/1", *add, "f/3"]}
    return {"spec": spec, **({"metadata": metadata} if r.random() < .5 else {})}


def random_case(seed):
    r = random.Random(seed)
    pod = {"metadata": {"name": "p", "labels": {"x": "1"}, "finalizers": ["f/1", "f/2", "f/3"]},
           "spec": {"containers": [random_container(r, n) for n in r.sample("abcd", 3)]}}
    return pod, random_patch(r, pod)


def sorted_lists(value):
    if isinstance(value, dict):
        return {k: sorted_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((sorted_lists(v) for v in value),
                      key=lambda v: json.dumps(v, sort_keys=True))
    return value


def test_random_kubectl_shaped_patches_merge_as_upstream(tmp_path):
    """Seeded, so it fails the same way twice. Where a patch deletes list elements, the
    order of what remains is compared loosely: upstream's then depends on Go slice aliasing
    (deleting shifts the live slice that later serves as the server order)."""
    cases = [random_case(seed) for seed in range(60)]
    with ThreadPoolExecutor(8) as pool:
        theirs = list(pool.map(lambda c: kubectl_patch("Pod", *c, tmp_path), cases))
    for (pod, patch), (ok, upstream_result) in zip(cases, theirs):
        assert ok, (patch, upstream_result)
        ours, expected = strategic_merge(typed("Pod", pod), patch, "v1", "Pod"), \
            as_stored(upstream_result)
        if '"delete"' in json.dumps(patch):
            ours, expected = sorted_lists(ours), sorted_lists(expected)
        assert ours == expected, patch
