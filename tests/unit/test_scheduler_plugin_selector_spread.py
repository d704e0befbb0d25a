"""SelectorSpread, table-driven: siblings on a node, and the normalisation that spreads."""
import pytest

from kfs.scheduler.plugins.selector_spread import SelectorSpread, spread_normalize
from tests.unit.scheduler_objects import node, node_info, pod


@pytest.mark.parametrize("what, existing, wanted, expected", [
    ("no siblings on the node", [pod("a", owner="other")], pod("x", owner="web"), 0),
    ("counts pods of the same controller", [pod("a", owner="web"), pod("b", owner="web"),
                                            pod("c", owner="db")], pod("x", owner="web"), 2),
    ("other namespaces do not count", [pod("a", owner="web", namespace="other")],
     pod("x", owner="web"), 0),
    ("a pod without a controller spreads nothing", [pod("a")], pod("x"), 0),
])
def test_selector_spread(what, existing, wanted, expected):
    assert SelectorSpread().score(wanted, node_info(node(), *existing)) == expected, what


@pytest.mark.parametrize("counts, expected", [
    ({"n1": 0, "n2": 0}, {"n1": 100, "n2": 100}),
    ({"n1": 2, "n2": 0}, {"n1": 0, "n2": 100}),
    ({"n1": 3, "n2": 1, "n3": 0}, {"n1": 0, "n2": 66, "n3": 100}),
])
def test_spread_normalize_gives_the_most_crowded_node_zero(counts, expected):
    assert spread_normalize(counts) == expected
    assert SelectorSpread().normalize(counts) == expected
