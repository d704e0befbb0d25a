"""The `kfs scheduler` command line: flags, an attendee's score plugin, clear errors."""
import argparse
import random
import subprocess
import sys

import pytest

from kfs.scheduler import main, plugins
from kfs.scheduler.framework import Framework
from tests.fakes import FakeApi
from tests.unit.scheduler_objects import node, node_info, pod

PLUGIN = '''
def prefer_node2(pod, node_info):
    """Send everything to node2."""
    return 100 if node_info.name == "node2" else 0
'''

CLASS_PLUGIN = '''
class PreferNode2:
    """Send everything to node2, written as the built-in plugins are."""
    name = "PreferNode2"

    def score(self, pod, node_info):
        return 100 if node_info.name == "node2" else 0
'''


def parse(*argv):
    parser = argparse.ArgumentParser()
    main.add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture
def plugin_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(PLUGIN)
    return path


def test_upstream_flag_names_and_defaults():
    args = parse()
    assert args.scheduler_name == "default-scheduler"
    assert args.pod_max_in_unschedulable_pods_duration == 300.0
    assert parse("--pod-max-in-unschedulable-pods-duration", "30s") \
        .pod_max_in_unschedulable_pods_duration == 30.0


@pytest.mark.parametrize("text, seconds", [("500ms", 0.5), ("30s", 30), ("5m", 300),
                                           ("1h", 3600), ("2", 2)])
def test_durations_read_like_go(text, seconds):
    assert main.duration(text) == seconds


def test_a_score_plugin_from_a_file_changes_where_a_pod_lands(plugin_file):
    plugin = plugins.load_score_plugin(f"{plugin_file}:prefer_node2:5")
    assert (plugin.name, plugin.weight) == ("prefer_node2", 5)
    f = Framework(plugins.FILTERS, plugins.default_scores() + [plugin], random.Random(0))
    busy2 = node_info(node("node2"), pod("a", cpu="1"))
    assert f.schedule_pod(pod(), [node_info(node("node1")), busy2]).suggested_host == "node2"


def test_a_score_plugin_class_has_the_shape_of_the_built_in_ones(tmp_path):
    path = tmp_path / "shaped.py"
    path.write_text(CLASS_PLUGIN)
    plugin = plugins.load_score_plugin(f"{path}:PreferNode2:5")
    assert (plugin.name, plugin.weight, plugin.events_to_register()) == ("PreferNode2", 5, [])
    f = Framework(plugins.FILTERS, plugins.default_scores() + [plugin], random.Random(0))
    busy2 = node_info(node("node2"), pod("a", cpu="1"))
    assert f.schedule_pod(pod(), [node_info(node("node1")), busy2]).suggested_host == "node2"


def test_a_plugin_class_without_a_score_method_is_refused(tmp_path):
    path = tmp_path / "shapeless.py"
    path.write_text("class Nothing:\n    name = 'Nothing'\n")
    with pytest.raises(plugins.PluginError, match=r"Nothing has no method score\(self, pod"):
        plugins.load_score_plugin(f"{path}:Nothing")


def test_the_weight_defaults_to_one(plugin_file):
    assert plugins.load_score_plugin(f"{plugin_file}:prefer_node2").weight == 1


@pytest.mark.parametrize("spec, message", [
    ("{f}", r"expected FILE\.py:FUNCTION\[:WEIGHT\]"),
    ("{f}:nope", "defines no function 'nope'"),
    ("{f}.missing:prefer_node2", "no file"),
    ("{f}:prefer_node2:0", "the weight must be 1..100"),
    ("{f}:prefer_node2:101", "the weight must be 1..100"),
])
def test_a_bad_score_plugin_is_refused_with_what_to_fix(plugin_file, spec, message):
    with pytest.raises(plugins.PluginError, match=message):
        plugins.load_score_plugin(spec.format(f=plugin_file))


def test_a_plugin_file_that_does_not_load_names_the_error(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(pod, node_info):\n    return (\n")
    with pytest.raises(plugins.PluginError, match="does not load: SyntaxError"):
        plugins.load_score_plugin(f"{bad}:f")


def test_build_adds_the_plugin_after_the_defaults(plugin_file):
    api = FakeApi()
    sched = main.build(parse("--score-plugin", f"{plugin_file}:prefer_node2:3"), client=api)
    assert [(p.name, p.weight) for p in sched.framework.scores] == [
        ("NodeResourcesLeastAllocated", 1), ("SelectorSpread", 2), ("prefer_node2", 3)]
    sched.stop()


def test_the_command_refuses_a_bad_plugin_without_a_traceback(tmp_path, plugin_file):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n"
                          "current-context: x\nusers: []\n")
    out = subprocess.run([sys.executable, "-m", "kfs.cli", "scheduler", "--kubeconfig",
                          str(kubeconfig), "--score-plugin", f"{plugin_file}:nope"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "kfs scheduler: --score-plugin" in out.stderr and "Traceback" not in out.stderr


def test_the_command_names_a_missing_kubeconfig(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kfs.cli", "scheduler", "--kubeconfig",
                          str(tmp_path / "none")], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "no kubeconfig at" in out.stderr


def test_the_lab_stage_runs_kfs_scheduler_on_cp_with_the_attendees_plugins(tmp_path,
                                                                             monkeypatch):
    from kfs.lab.lab import Lab
    from kfs.lab.stages import scheduler as stage
    from kfs.lab.supervisor import kfs_command
    lab = Lab(name="kfsunit", subnet="10.99.0.0/24", home=tmp_path)
    monkeypatch.chdir(tmp_path)
    lab.state["scheduler_score_plugins"] = ["mine.py:prefer_node2"]
    d = stage.daemon(lab)
    assert d.argv[:2] == [kfs_command(), "scheduler"] and d.netns == "kfsunit-cp"
    assert d.argv[d.argv.index("--kubeconfig") + 1] == str(lab.kubeconfig("kube-scheduler"))
    assert d.argv[-2:] == ["--score-plugin", f"{tmp_path}/mine.py:prefer_node2:1"]
    assert d.logfile == lab.machine("cp").dir / "scheduler.log"
