"""The framework: filter -> score -> pick, and upstream's FitError wording."""
import random

import pytest

from kfs.scheduler import events, plugins
from kfs.scheduler.framework import (FitError, Framework, InvalidScore, NoNodesAvailable,
                                     ScorePlugin, num_feasible_nodes_to_find)
from tests.unit.scheduler_objects import node, node_info, pod

UNREACHABLE = [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule"}]


def framework(scores=None, seed=1):
    return Framework(plugins.FILTERS, plugins.default_scores() if scores is None else scores,
                     random.Random(seed))


def test_the_fit_error_message_is_upstreams_word_for_word():
    nodes = [node_info(node("node1", cpu="1")),
             node_info(node("node2", taints=UNREACHABLE)),
             node_info(node("node3", ready="Unknown"))]
    with pytest.raises(FitError) as e:
        framework().schedule_pod(pod(cpu="2"), nodes)
    assert e.value.message == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, "
        "2 Preemption is not helpful for scheduling.")


def test_when_no_node_could_be_helped_by_preemption_all_say_so():
    nodes = [node_info(node(f"node{i}", taints=UNREACHABLE)) for i in (1, 2, 3)]
    with pytest.raises(FitError) as e:
        framework().schedule_pod(pod(), nodes)
    assert e.value.message == (
        "0/3 nodes are available: 3 node(s) had untolerated taint "
        "{node.kubernetes.io/unreachable: }. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")


def test_reasons_sort_as_strings_and_a_node_may_give_two():
    nodes = [node_info(node("n1", cpu="1", memory="1Gi")), node_info(node("n2", pods=0))]
    with pytest.raises(FitError) as e:
        framework().schedule_pod(pod(cpu="2", memory="2Gi"), nodes)
    assert e.value.message.startswith(
        "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods.")


def test_a_pod_that_may_not_preempt_says_so():
    p = pod(cpu="8")
    p["spec"]["preemptionPolicy"] = "Never"
    with pytest.raises(FitError) as e:
        framework().schedule_pod(p, [node_info(node())])
    assert e.value.message == ("0/1 nodes are available: 1 Insufficient cpu. "
                               "preemption: not eligible due to preemptionPolicy=Never.")


def test_no_nodes_at_all_is_its_own_error():
    with pytest.raises(NoNodesAvailable, match="no nodes available to schedule pods"):
        framework().schedule_pod(pod(), [])


def test_the_emptier_node_wins():
    busy = node_info(node("busy"), pod("a", cpu="1500m"))
    result = framework().schedule_pod(pod(cpu="100m"), [busy, node_info(node("idle"))])
    assert result.suggested_host == "idle"
    assert (result.evaluated_nodes, result.feasible_nodes) == (2, 2)


def test_pods_of_one_owner_spread_even_when_the_other_node_is_busier():
    crowded = node_info(node("crowded"), pod("a", owner="web"), pod("b", owner="web"))
    other = node_info(node("other"), pod("c", cpu="1"))
    assert framework().schedule_pod(pod("x", owner="web"), [crowded, other]).suggested_host \
        == "other"


def test_weights_multiply_scores():
    def prefer_node2(p, ni):
        return 100 if ni.name == "node2" else 0
    f = framework(plugins.default_scores() + [ScorePlugin("prefer_node2", prefer_node2, 5)])
    busy2 = node_info(node("node2"), pod("a", cpu="1500m"))
    result = f.schedule_pod(pod(), [node_info(node("node1")), busy2])
    assert result.suggested_host == "node2"
    assert result.scores["node2"] - result.scores["node1"] > 400


def test_ties_are_broken_at_random_but_every_tied_node_can_win():
    nodes = [node_info(node(f"n{i}")) for i in range(3)]
    f = Framework(plugins.FILTERS, [ScorePlugin("flat", lambda p, ni: 50)], random.Random(7))
    winners = {f.schedule_pod(pod(), nodes).suggested_host for _ in range(60)}
    assert winners == {"n0", "n1", "n2"}


def test_a_score_out_of_range_is_an_error_in_upstreams_words():
    f = framework([ScorePlugin("greedy", lambda p, ni: 150)])
    with pytest.raises(InvalidScore, match=r"plugin 'greedy' returns an invalid score 150, "
                       r"it should in the range of \[0, 100\] after normalizing"):
        f.schedule_pod(pod(), [node_info(node("n1")), node_info(node("n2"))])


def test_one_feasible_node_is_chosen_without_scoring():
    f = framework([ScorePlugin("broken", lambda p, ni: 1 / 0)])
    nodes = [node_info(node("n1")), node_info(node("n2", unschedulable=True))]
    assert f.schedule_pod(pod(), nodes).suggested_host == "n1"


def test_explain_shows_every_filters_answer_and_the_scores_of_feasible_nodes():
    nodes = [node_info(node("small", cpu="500m")), node_info(node("big", cpu="4"))]
    rows = {r["node"]: r for r in framework().explain(pod(cpu="1"), nodes)}
    assert rows["small"]["filters"]["NodeResourcesFit"] == "Insufficient cpu"
    assert rows["small"]["filters"]["TaintToleration"] == "ok"
    assert rows["small"]["total"] is None
    assert set(rows["big"]["scores"]) == {"NodeResourcesLeastAllocated", "SelectorSpread"}
    assert rows["big"]["total"] == sum(rows["big"]["scores"].values())


def test_explain_table_has_a_line_per_plugin_and_a_column_per_node():
    from kfs.scheduler.framework import explain_table
    f = framework()
    nodes = [node_info(node("small", cpu="500m")), node_info(node("big", cpu="4"))]
    lines = explain_table(f.explain(pod(cpu="1"), nodes), f.filters, f.scores).splitlines()
    assert lines[0].split() == ["plugin", "small", "big"]
    assert len(lines) == 1 + len(f.filters) + len(f.scores) + 1
    fit = next(line for line in lines if line.startswith("NodeResourcesFit (filter)"))
    assert "Insufficient cpu" in fit
    assert lines[-1].split()[1:] == ["-", str(f.explain(pod(cpu="1"), nodes)[1]["total"])]


def test_a_fit_error_names_the_plugins_that_rejected_the_pod_for_the_queue():
    nodes = [node_info(node("node1", cpu="1")),
             node_info(node("node2", taints=UNREACHABLE)),
             node_info(node("node3", ready="Unknown"))]
    with pytest.raises(FitError) as e:
        framework().schedule_pod(pod(cpu="2"), nodes)
    assert e.value.unschedulable_plugins == {"NodeResourcesFit", "TaintToleration", "NodeReady"}


def test_queueing_hints_gather_what_the_filters_registered_and_no_score():
    hints = framework().queueing_hints()
    asked = {name for registered in hints.values() for name, _ in registered}
    assert asked == {p.name for p in plugins.FILTERS}
    label_change = [name for registered, hs in hints.items()
                    if registered.match(events.NODE_LABEL_CHANGE) for name, _ in hs]
    assert label_change == ["NodeAffinity"]


@pytest.mark.parametrize("nodes, percentage, enough", [
    (50, 0, 50),        # under 100 nodes: every node
    (100, 0, 100),      # 50 % of 100 is under the floor of 100
    (500, 0, 230),      # adaptive: 50 % - 500/125 = 46 %
    (1000, 0, 420),     # 42 %
    (10000, 0, 500),    # 50 % - 80 is under the floor of 5 %
    (2000, 10, 200),    # percentageOfNodesToScore set
    (500, 10, 100),     # at least 100 all the same
])
def test_how_many_feasible_nodes_are_enough_is_upstreams_rule(nodes, percentage, enough):
    assert num_feasible_nodes_to_find(nodes, percentage) == enough


def test_in_a_large_cluster_the_search_stops_early_and_the_next_one_goes_on_from_there():
    nodes = [node_info(node(f"n{i:03d}")) for i in range(500)]
    f = framework()
    first = f.schedule_pod(pod("a"), nodes)
    assert (first.evaluated_nodes, first.feasible_nodes) == (230, 230)
    assert first.suggested_host in {f"n{i:03d}" for i in range(230)}
    second = f.schedule_pod(pod("b"), nodes)
    assert second.suggested_host in {f"n{i:03d}" for i in range(230, 460)}
    assert f.next_start_node_index == 460


def test_when_few_nodes_fit_every_node_is_examined():
    nodes = [node_info(node(f"n{i:03d}", cpu="1")) for i in range(199)] + \
        [node_info(node("big", cpu="8"))]
    result = framework().schedule_pod(pod("a", cpu="4"), nodes)
    assert (result.suggested_host, result.evaluated_nodes) == ("big", 200)
    with pytest.raises(FitError) as e:
        framework().schedule_pod(pod("b", cpu="16"), nodes)
    assert e.value.message.startswith("0/200 nodes are available: 200 Insufficient cpu.")
