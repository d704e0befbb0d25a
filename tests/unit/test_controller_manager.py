"""The controller manager's wiring: flags, shared informers, workers, on FakeApi."""
import argparse

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
           "nodelifecycle", "disruption", "csrapproving", "csrsigning"]),
    ("*,-garbagecollector", ["replicaset", "deployment", "endpoint", "endpointslice",
                             "nodelifecycle", "disruption", "csrapproving", "csrsigning"]),
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
