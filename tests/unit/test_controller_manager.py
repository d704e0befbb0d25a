"""The controller manager's wiring: flags, shared informers, workers, on FakeApi."""
import argparse
import logging
import os
import signal
import threading

import pytest

from kfs import meta
from kfs.controllers import main
from kfs.controllers.manager import ControllerManager, SharedInformers
from kfs.util import wait_for
from tests.controller_objects import deployment
from tests.fakes import FakeApi


def args(*argv):
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("spec, expected", [
    ("*", ["replicaset", "deployment", "endpoint", "endpointslice", "garbagecollector",
           "nodelifecycle", "disruption", "csrapproving", "csrsigning", "csrcleaner"]),
    ("*,-garbagecollector", ["replicaset", "deployment", "endpoint", "endpointslice",
                             "nodelifecycle", "disruption", "csrapproving", "csrsigning",
                             "csrcleaner"]),
    ("replicaset,deployment-controller", ["replicaset", "deployment"]),
    ("disruption-controller", ["disruption"]),
    ("", []),
])
def test_the_controllers_flag_speaks_upstream_syntax(spec, expected):
    assert main.enabled_controllers(spec) == expected


def test_csrsigning_runs_only_with_the_cas_files():
    assert "csrsigning" not in main.runnable(args())
    assert "csrsigning" in main.runnable(args("--cluster-signing-cert-file", "ca.crt",
                                               "--cluster-signing-key-file", "ca.key"))


def test_an_unknown_controller_name_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="known: replicaset"):
        main.enabled_controllers("*,-gc")


@pytest.mark.parametrize("text, seconds", [("20s", 20), ("1m", 60), ("500ms", 0.5), ("7", 7)])
def test_durations_parse_as_go_durations(text, seconds):
    assert main.duration(text) == seconds


def test_flags_reach_the_controllers():
    a = args("--node-monitor-grace-period", "7s", "--concurrent-replicaset-syncs", "3",
             "--default-unreachable-toleration-seconds", "9")
    api = FakeApi()
    built = {c.name: c for c in main.build(a, api, SharedInformers(api, api.informer))}
    assert built["replicaset"].workers == 3
    assert built["nodelifecycle"].grace_period == 7
    assert built["nodelifecycle"].default_tolerations["node.kubernetes.io/unreachable"] == 9


def test_controllers_share_one_informer_per_resource():
    api = FakeApi()
    informers = SharedInformers(api, api.informer)
    main.build(args(), api, informers)
    assert sorted(informers.informers) == sorted(
        ["deployments", "replicasets", "pods", "services", "endpoints", "endpointslices",
         "leases", "nodes", "poddisruptionbudgets", "certificatesigningrequests"])
    assert len(api.informers) == 10


def test_the_manager_runs_workers_that_turn_a_deployment_into_pods():
    api = FakeApi()
    informers = SharedInformers(api, api.informer)
    manager = ControllerManager(api, main.build(args(), api, informers), informers)
    manager.run()
    try:
        api.create(deployment(replicas=3))
        wait_for(lambda: len(api.all("pods")) == 3, 10, what="3 pods")
        rs = api.all("replicasets")
        assert len(rs) == 1 and all(meta.controller_of(p)["name"] == meta.name(rs[0])
                                    for p in api.all("pods"))
    finally:
        manager.stop()


class NeverSynced(SharedInformers):
    def wait_synced(self, timeout=60.0):
        raise TimeoutError("the API server never answered the first lists")


def replicaset_manager(informers_class=SharedInformers):
    api = FakeApi()
    informers = informers_class(api, api.informer)
    return ControllerManager(api, main.build(args("--controllers", "replicaset"), api,
                                             informers), informers)


@pytest.fixture
def sigterm_restored():
    """serve installs a SIGTERM handler: the test process gets its own back."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


def test_serve_exits_1_naming_the_program_when_the_first_lists_never_come(
        capsys, sigterm_restored):
    manager = replicaset_manager(NeverSynced)
    try:
        assert manager.serve("kfs controller-manager", "started") == 1
    finally:
        manager.stop()
    assert "kfs controller-manager: the API server never answered" in capsys.readouterr().err


def test_serve_logs_started_works_until_sigterm_then_stops_its_controllers(
        caplog, sigterm_restored):
    manager = replicaset_manager()

    def sigterm_once_started():
        wait_for(lambda: "controllers started: replicaset" in caplog.text, 10,
                 what="the started line")
        os.kill(os.getpid(), signal.SIGTERM)
    sent = threading.Thread(target=sigterm_once_started)
    try:
        with caplog.at_level(logging.INFO, logger="kfs.controllers"):
            sent.start()
            assert manager.serve("kfs controller-manager",
                                 "controllers started: replicaset") == 0
    finally:
        sent.join(10)
    assert manager.stopped.is_set()
    assert all(c.queue.shutting_down for c in manager.controllers)
