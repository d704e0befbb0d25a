import pytest

from kfs import meta


@pytest.mark.parametrize("selector, labels, expected", [
    ("app=web", {"app": "web"}, True),
    ("app=web", {"app": "db"}, False),
    ("app==web,tier!=cache", {"app": "web", "tier": "front"}, True),
    ("app!=web", {}, True),
    ("tier in (a, b)", {"tier": "b"}, True),
    ("tier notin (a,b)", {"tier": "b"}, False),
    ("tier notin (a,b)", {}, True),
    ("!canary", {"canary": "1"}, False),
    ("canary", {"canary": ""}, True),
    ("app=web,tier in (a,b),!canary", {"app": "web", "tier": "a"}, True),
    ("", {"anything": "x"}, True),
])
def test_string_selectors_select_as_kubectl_means_them(selector, labels, expected):
    assert meta.selects(selector, {"metadata": {"labels": labels}}) is expected


def test_label_selector_dict_with_match_expressions():
    sel = {"matchLabels": {"app": "web"},
           "matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]},
                                {"key": "old", "operator": "DoesNotExist"}]}
    assert meta.selects(sel, {"metadata": {"labels": {"app": "web", "env": "prod"}}})
    assert not meta.selects(sel, {"metadata": {"labels": {"app": "web", "env": "prod", "old": "1"}}})


def test_empty_selector_selects_all_and_none_selects_nothing():
    pod = {"metadata": {"labels": {"a": "b"}}}
    assert meta.selects({}, pod) and not meta.selects(None, pod)


def test_service_style_plain_map_selector():
    assert meta.selects({"app": "web"}, {"metadata": {"labels": {"app": "web", "x": "y"}}})


def test_selector_round_trips_through_its_string_form():
    sel = {"matchLabels": {"app": "web"},
           "matchExpressions": [{"key": "t", "operator": "NotIn", "values": ["a", "b"]}]}
    text = meta.selector_to_string(sel)
    assert text == "app=web,t notin (a,b)"
    assert meta.parse_selector(text) == meta.selector_from_dict(sel)


def test_bad_selector_raises():
    with pytest.raises(meta.SelectorError):
        meta.parse_selector("app in (a")


def test_field_selectors_on_nested_fields_and_missing_ones():
    pod = {"metadata": {"name": "p"}, "spec": {"nodeName": "node1"}}
    assert meta.field_matches(meta.parse_field_selector("metadata.name=p,spec.nodeName==node1"), pod)
    assert not meta.field_matches(meta.parse_field_selector("spec.nodeName!=node1"), pod)
    assert meta.field_matches(meta.parse_field_selector("spec.nodeName="), {"spec": {}})


@pytest.mark.parametrize("q, value", [("100m", 0.1), ("2", 2.0), ("128Mi", 128 * 2**20),
                                      ("1G", 1e9), (1.5, 1.5), ("1e3", 1000.0)])
def test_quantities(q, value):
    assert meta.parse_quantity(q) == pytest.approx(value)


def test_bad_quantity_message_names_the_value():
    with pytest.raises(ValueError, match="'12x'"):
        meta.parse_quantity("12x")


def test_condition_transition_time_moves_only_when_status_flips():
    status = {}
    assert meta.set_condition(status, "Ready", True, at="t1")
    assert meta.set_condition(status, "Ready", True, reason="R", at="t2")
    assert meta.get_condition(status, "Ready")["lastTransitionTime"] == "t1"
    assert not meta.set_condition(status, "Ready", True, reason="R", at="t3")
    assert meta.set_condition(status, "Ready", False, at="t4")
    assert meta.get_condition(status, "Ready")["lastTransitionTime"] == "t4"


def test_a_metav1_condition_always_carries_reason_message_and_generation():
    status = {}
    assert meta.set_status_condition(status, "DisruptionAllowed", True, "SufficientPods",
                                     observed_generation=1, at="t1")
    assert status["conditions"] == [{"type": "DisruptionAllowed", "status": "True",
                                     "reason": "SufficientPods", "message": "",
                                     "observedGeneration": 1, "lastTransitionTime": "t1"}]
    assert not meta.set_status_condition(status, "DisruptionAllowed", True, "SufficientPods",
                                         observed_generation=1, at="t2")
    assert meta.set_status_condition(status, "DisruptionAllowed", True, "SufficientPods",
                                     observed_generation=2, at="t3")
    assert meta.get_condition(status, "DisruptionAllowed")["lastTransitionTime"] == "t1"
    assert meta.set_status_condition(status, "DisruptionAllowed", False, "InsufficientPods",
                                     observed_generation=2, at="t4")
    assert meta.get_condition(status, "DisruptionAllowed")["lastTransitionTime"] == "t4"


def test_keys_and_controller_refs():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "rs", "namespace": "ns", "uid": "u1"}}
    pod = {"metadata": {"name": "p", "namespace": "ns",
                        "ownerReferences": [meta.owner_reference(owner)]}}
    assert meta.key(pod) == "ns/p" and meta.split_key("ns/p") == ("ns", "p")
    assert meta.split_key("node1") == (None, "node1")
    assert meta.controller_of(pod)["uid"] == "u1"
