"""ReplicaSets: defaults, validation, the printed row (kfs/apiserver/kinds/replicaset.py)."""


from kfs.apiserver.kinds import default
from tests.unit.kind_objects import (
    cells, column_names, deployment, named)


def test_a_replicaset_gets_one_replica_and_template_defaults():
    rs = deployment()
    rs["kind"] = "ReplicaSet"
    default(rs)
    assert rs["spec"]["replicas"] == 1 and rs["spec"]["template"]["spec"]["dnsPolicy"] == "ClusterFirst"
    assert "strategy" not in rs["spec"]


TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}}


def test_replicaset_row():
    rs = named("web-5d9f", spec={"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d9f"}},
                                 "template": TEMPLATE}, status={"replicas": 3, "readyReplicas": 1})
    assert cells("replicasets", rs) == ["web-5d9f", 3, 3, 1, "5m", "web,log", "nginx:1.25,busybox",
                                        "app=web,pod-template-hash=5d9f"]


def test_replicasets_have_upstreams_columns_with_wide_ones_at_priority_1():
    assert column_names("replicasets") == (["Name", "Desired", "Current", "Ready", "Age"],
                                           ["Containers", "Images", "Selector"])
