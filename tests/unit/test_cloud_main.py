"""The cloud-controller-manager's wiring: flags, the provider from --cloud-config, workers."""
import argparse
import json

import pytest

from kfs.cloud import main
from kfs.cloud.cloud import get_cloud_provider
from kfs.cloud.controllers.node import UNINITIALIZED
from kfs.controllers.manager import ControllerManager, SharedInformers
from kfs.util import wait_for
from tests.controller_objects import node
from tests.fakes import FakeApi
from tests.unit.cloud_fakes import fake_cloud


def args(*argv):
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    return parser.parse_args(["--cloud-provider", "netns", *argv])


@pytest.mark.parametrize("spec, expected", [
    ("*", ["cloud-node", "cloud-node-lifecycle", "service"]),
    ("*,-service-lb-controller", ["cloud-node", "cloud-node-lifecycle"]),
    ("cloud-node-controller", ["cloud-node"]),
])
def test_the_controllers_flag_speaks_upstream_names(spec, expected):
    assert main.enabled_controllers(spec, main.CONTROLLERS) == expected


def test_an_unknown_controller_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match="known: cloud-node, cloud-node-lifecycle, service"):
        main.enabled_controllers("route", main.CONTROLLERS)


def test_flags_reach_the_controllers_and_they_share_the_node_informer():
    api, (provider, _, _) = FakeApi(), fake_cloud("cp")
    informers = SharedInformers(api, api.informer)
    built = {c.name: c for c in main.build(
        args("--node-monitor-period", "3s", "--node-status-update-frequency", "1m",
             "--cluster-name", "lab"), api, informers, provider)}
    assert built["cloud-node-lifecycle"].resync_period == 3
    assert built["cloud-node"].resync_period == 60
    assert built["service"].cluster_name == "lab"
    assert sorted(informers.informers) == ["nodes", "services"]


def test_a_cloud_without_load_balancers_runs_no_service_controller():
    api = FakeApi()
    built = main.build(args(), api, SharedInformers(api, api.informer),
                       get_cloud_provider("vagrant"))
    assert [c.name for c in built] == ["cloud-node", "cloud-node-lifecycle"]


def test_the_netns_provider_reads_the_lab_from_its_cloud_config(tmp_path):
    config = tmp_path / "cloud-config.json"
    config.write_text(json.dumps({"lab": "kfsx", "subnet": "10.9.0.0/24", "machines": [
        {"name": "node1", "address": "10.9.0.11", "zone": "kfsx-a", "region": "kfsx"}]}))
    provider = get_cloud_provider("netns", cloud_config=str(config))
    md = provider.instance_metadata({"metadata": {"name": "node1"}, "spec": {}})
    assert md.provider_id == "kfs://kfsx/node1" and md.zone == "kfsx-a"
    assert provider.pool[0] == "10.9.0.200"


def test_a_cloud_config_without_the_lab_is_refused_naming_the_field(tmp_path):
    config = tmp_path / "cloud-config.json"
    config.write_text("{}")
    with pytest.raises(ValueError, match="no 'lab'"):
        get_cloud_provider("netns", cloud_config=str(config))


def test_the_manager_runs_workers_that_initialize_a_registering_node():
    api, (provider, _, _) = FakeApi(), fake_cloud("cp", "node1")
    informers = SharedInformers(api, api.informer)
    manager = ControllerManager(api, main.build(args(), api, informers, provider), informers)
    manager.run()
    try:
        api.create(node("node1", taints=[{"key": UNINITIALIZED, "effect": "NoSchedule"}]))
        wait_for(lambda: api.get("nodes", "node1")["spec"].get("providerID"), 10,
                 what="node1's providerID")
        assert "taints" not in api.get("nodes", "node1")["spec"]
    finally:
        manager.stop()
