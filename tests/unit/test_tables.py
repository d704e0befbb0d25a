"""Server-side printing, whatever the kind: the Table's shape, the embedded objects, ages,
and the default columns of kinds without a printer (kfs/apiserver/tables.py); each kind's
columns and row are tested with its kind in tests/unit/kinds/."""
import pytest

from kfs.apiserver.tables import human_duration
from tests.unit.kind_objects import TABLE_NOW, ago, cells, column_names, named, table


@pytest.mark.parametrize("seconds, text", [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (5, "5s"), (119, "119s"), (120, "2m"), (182, "3m2s"),
    (599, "9m59s"), (600, "10m"), (3 * 3600 - 1, "179m"), (3 * 3600, "3h"), (5 * 3600 + 600, "5h10m"),
    (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"), (51 * 3600, "2d3h"), (8 * 86400, "8d"),
    (730 * 86400, "2y"), (770 * 86400, "2y40d"), (3000 * 86400, "8y"),
])
def test_ages_read_as_kubectls_human_durations(seconds, text):
    assert human_duration(seconds) == text


def test_a_table_is_a_meta_v1_table_with_complete_column_definitions():
    t = table("pods", [], now=TABLE_NOW, list_metadata={"resourceVersion": "42"})
    assert (t["kind"], t["apiVersion"], t["metadata"], t["rows"]) == ("Table", "meta.k8s.io/v1",
                                                                      {"resourceVersion": "42"}, [])
    assert all(set(c) == {"name", "type", "format", "description", "priority"} for c in t["columnDefinitions"])
    assert t["columnDefinitions"][0]["format"] == "name"


@pytest.mark.parametrize("include, expected", [
    (True, "full"), ("Object", "full"), ("Metadata", "partial"), ("None", None), (False, None),
])
def test_rows_carry_the_object_as_asked(include, expected):
    pod = named("p", kind="Pod", apiVersion="v1", spec={"containers": []})
    row = table("pods", [pod], include_object=include, now=TABLE_NOW)["rows"][0]
    want = {"full": pod, "partial": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                     "metadata": pod["metadata"]}}.get(expected)
    assert row.get("object") == want


def test_kinds_without_a_printer_show_name_and_creation_time():
    assert cells("roles", named("reader")) == ["reader", ago(minutes=5)]


def test_a_kind_kfs_has_no_rules_for_prints_name_and_creation_time():
    assert column_names("widgets") == (["Name", "Created At"], [])
