"""The kubelet as ``kfs kubelet`` wires it to an API server (an in-memory FakeApi): the pods
bound to the node run and report, a deleted pod is deleted for good, a static pod gets a
mirror pod carrying its status, events reach the API server."""
import argparse

import pytest

from kfs import meta
from kfs.kubelet import main, manifest, sources
from kfs.kubelet.fake_runtime import FakeRuntime
from kfs.util import wait_for
from tests.fakes import FakeApi
from tests.unit.test_kubelet_sync import make_pod


@pytest.fixture
def api():
    return FakeApi({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}})


def kubelet_args(tmp_path, *flags):
    p = argparse.ArgumentParser()
    main.add_arguments(p)
    return p.parse_args(["--node-name", "node1", "--node-ip", "192.168.56.11", "--root-dir",
                         str(tmp_path), "--sync-frequency", "0.05", *flags])


@pytest.fixture
def kl(api, tmp_path):
    """A kubelet built as main builds it, its API server parts over the FakeApi."""
    args = kubelet_args(tmp_path, "--kubeconfig", "unused")
    deps = main.api_deps(api, api.informer("pods"), args, FakeRuntime())
    deps.node.register()
    k = main.build_kubelet(args, deps.node.runtime, deps)
    source = sources.APISource(k.config, "node1", api, informer=deps.pods).start()
    wait_for(lambda: sources.API in k.config.snapshots, 5, what="the API source's first set")
    yield k
    k.stop()
    source.stop()


def api_pod(api, name="web", finalizers=(), **spec):
    return api.create({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "finalizers": list(finalizers)},
                       "spec": {"nodeName": "node1", "containers": [
                           {"name": "app", "image": "kfs/busybox:1"}], **spec}})


def test_a_standalone_kubelet_has_no_api_server_parts(tmp_path):
    kl = main.build_kubelet(kubelet_args(tmp_path), FakeRuntime(), None)
    assert kl.status.writer is None and kl.on_terminated is None and kl.mirror_pods is None
    assert kl.recorder.sink is None and kl.config.order == []


def test_a_pod_bound_to_the_node_runs_and_its_status_is_written(api, kl):
    api_pod(api)
    kl.handle_pods(kl.config.pods())
    wait_for(lambda: api.get("pods", "web", "default").get("status", {}).get("phase") ==
             "Running", 5, what="the pod's status Running in the API")
    status = api.get("pods", "web", "default")["status"]
    assert status["podIP"].startswith("172.17.") and status["hostIP"] == "192.168.56.11"


def test_a_deleted_pod_is_killed_then_deleted_for_good(api, kl):
    # the finalizer keeps the FakeApi from removing the pod at once, as a graceful delete does
    api_pod(api, finalizers=["test/hold"])
    kl.handle_pods(kl.config.pods())
    (app,) = wait_for(lambda: kl.runtime.running("app"), 5, what="the pod running")
    api.patch("pods", "web", {"metadata": {"deletionTimestamp": meta.now(),
                                           "deletionGracePeriodSeconds": 5}}, "default")
    kl.handle_pods(kl.config.pods())
    wait_for(lambda: ("delete", "pods", "default/web", None) in api.actions, 5,
             what="the final delete")
    assert ("stop_container", app.id, 5) in kl.runtime.calls
    assert not kl.runtime.containers


def test_a_static_pod_gets_a_mirror_pod_carrying_its_status(api, kl):
    static = make_pod()
    kl.desired = {static["metadata"]["uid"]: static}
    kl.sync(static)
    mirror = api.get("pods", "web-node1", "default")
    assert meta.annotations(mirror)[manifest.CONFIG_MIRROR] == \
        static["metadata"]["annotations"][manifest.CONFIG_HASH]
    assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert "node1" == mirror["spec"]["nodeName"]
    kl.sync(static)
    assert api.get("pods", "web-node1", "default")["status"]["phase"] == "Running"
    assert "web-node1" not in {p["metadata"]["name"] for p in kl.config.pods().values()}, \
        "a mirror pod is never run as a pod of its own"


def test_a_terminated_static_pod_takes_its_mirror_pod_along(api, kl):
    static = make_pod()
    kl.sync(static)
    assert api.get("pods", "web-node1", "default")
    kl.terminate(static, 0)
    assert not api.all("pods")


def test_events_about_a_static_pod_are_written_about_its_mirror_pod(api, kl):
    static = make_pod()
    kl.sync(static)
    mirror = api.get("pods", "web-node1", "default")
    events = wait_for(lambda: [e for e in api.all("events") if e.get("reason") == "Started"],
                      5, what="the Started event in the API")
    assert events[0]["involvedObject"]["uid"] == mirror["metadata"]["uid"]


def test_the_dns_flags_reach_the_kubelets_dns_configurer(tmp_path):
    args = kubelet_args(tmp_path, "--cluster-dns", "10.96.0.10", "--cluster-domain",
                        "cluster.local", "--resolv-conf", "")
    kl = main.build_kubelet(args, FakeRuntime(), None)
    dns = kl.runtime_manager.dns
    assert (dns.cluster_dns, dns.cluster_domain, dns.resolv_conf) == (
        ["10.96.0.10"], "cluster.local", "")


def test_a_cluster_dns_that_is_no_address_is_refused_naming_it(tmp_path, capsys):
    with pytest.raises(SystemExit):
        kubelet_args(tmp_path, "--cluster-dns", "kube-dns")
    assert "'kube-dns' is not an IP address" in capsys.readouterr().err


def test_a_bootstrap_kubeconfig_needs_a_kubeconfig_to_write(tmp_path, capsys):
    args = kubelet_args(tmp_path, "--bootstrap-kubeconfig", str(tmp_path / "boot"))
    assert main.bootstrap_client(args, tmp_path / "pki", None) == 2
    assert "--bootstrap-kubeconfig needs --kubeconfig" in capsys.readouterr().err


def test_a_failed_bootstrap_is_one_line_naming_the_bootstrap_kubeconfig(tmp_path, capsys):
    boot = tmp_path / "boot"
    boot.write_text("not: a kubeconfig\n")
    args = kubelet_args(tmp_path, "--bootstrap-kubeconfig", str(boot), "--kubeconfig",
                        str(tmp_path / "kubeconfig"))
    assert main.bootstrap_client(args, tmp_path / "pki", None) == 2
    assert f"TLS bootstrap with --bootstrap-kubeconfig {boot} failed" in capsys.readouterr().err
