"""Which list and watch options the API server accepts (upstream's ValidateListOptions with
the WatchList feature on) and the bookmark that ends a watch list's initial events
(kfs/apiserver/watch.py)."""
import pytest

from kfs import resources
from kfs.apiserver import errors, kinds, watch

WATCH_LIST = {"sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan",
              "allowWatchBookmarks": "true"}


def fields_of(query, watching=True):
    return [(c["field"], c["reason"]) for c in watch.list_options_causes(query, watching)]


@pytest.mark.parametrize("rv", ["", "0", "42"])
def test_a_watch_list_from_any_resource_version_is_valid(rv):
    assert fields_of({**WATCH_LIST, "resourceVersion": rv}) == []


def test_send_initial_events_false_is_valid_with_not_older_than():
    assert fields_of({**WATCH_LIST, "sendInitialEvents": "false"}) == []


def test_send_initial_events_without_not_older_than_is_forbidden():
    assert fields_of({"sendInitialEvents": "true"}) == [
        ("resourceVersionMatch", "FieldValueForbidden")]
    causes = watch.list_options_causes({"sendInitialEvents": "true"}, True)
    assert causes[0]["message"] == ("Forbidden: sendInitialEvents requires setting "
                                    "resourceVersionMatch to NotOlderThan")


def test_a_watch_with_resource_version_match_but_no_send_initial_events_is_forbidden():
    assert fields_of({"resourceVersionMatch": "NotOlderThan"}) == [
        ("resourceVersionMatch", "FieldValueForbidden")]


def test_a_watch_list_with_exact_match_is_refused_twice_as_upstream_does():
    assert fields_of({"sendInitialEvents": "true", "resourceVersionMatch": "Exact"}) == [
        ("resourceVersionMatch", "FieldValueForbidden"),
        ("resourceVersionMatch", "FieldValueNotSupported")]


def test_a_watch_list_cannot_continue_a_list():
    assert fields_of({**WATCH_LIST, "continue": "token"}) == [
        ("resourceVersionMatch", "FieldValueForbidden")]


def test_a_list_may_not_send_initial_events():
    assert fields_of({"sendInitialEvents": "true"}, watching=False) == [
        ("sendInitialEvents", "FieldValueForbidden")]


@pytest.mark.parametrize("query, reasons", [
    ({"resourceVersionMatch": "NotOlderThan"}, ["FieldValueForbidden"]),
    ({"resourceVersionMatch": "Exact", "resourceVersion": "0"}, ["FieldValueForbidden"]),
    ({"resourceVersionMatch": "Sometime", "resourceVersion": "5"}, ["FieldValueNotSupported"]),
    ({"resourceVersionMatch": "Exact", "resourceVersion": "5", "continue": "x"},
     ["FieldValueForbidden"]),
    ({"resourceVersionMatch": "NotOlderThan", "resourceVersion": "5"}, []),
    ({"resourceVersion": "5", "limit": "10"}, []),
])
def test_a_lists_resource_version_match_needs_a_resource_version(query, reasons):
    assert [r for _, r in fields_of(query, watching=False)] == reasons


def test_invalid_list_options_are_a_422_naming_list_options_in_meta_k8s_io():
    with pytest.raises(errors.StatusError) as e:
        watch.validate_list_options({"sendInitialEvents": "true"}, watching=False)
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert e.value.message == ('ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: '
                               'Forbidden: sendInitialEvents is forbidden for list')
    assert e.value.details["kind"] == "ListOptions" and e.value.details["group"] == "meta.k8s.io"


def test_a_boolean_parameter_that_is_not_one_is_a_400():
    assert watch.parse_bool({}, "sendInitialEvents") is None
    assert watch.parse_bool({"sendInitialEvents": "false"}, "sendInitialEvents") is False
    with pytest.raises(errors.StatusError) as e:
        watch.parse_bool({"sendInitialEvents": "yes please"}, "sendInitialEvents")
    assert e.value.code == 400 and "sendInitialEvents" in e.value.message


def test_the_end_of_initial_events_is_a_bookmark_annotated_at_the_lists_revision():
    deployments = kinds.for_resource(resources.lookup("deployments"))
    assert watch.initial_events_end(deployments, 17) == {
        "kind": "Deployment", "apiVersion": "apps/v1",
        "metadata": {"resourceVersion": "17",
                     "annotations": {"k8s.io/initial-events-end": "true"}}}
