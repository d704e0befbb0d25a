"""GuaranteedUpdate's steps (kfs/storage/store.py `update_steps`): which etcd requests a
read-modify-write asks for, from etcd's copy or from the watch cache's."""
import pytest
from etcd3 import etcdrpc

from kfs.storage import codec
from kfs.storage.errors import KeyNotFound
from kfs.storage.store import drive, update_steps

KEY = "/registry/pods/default/p"


class Etcd:
    """One key's value and revision, answering the requests `update_steps` makes; records
    what it was asked."""

    def __init__(self, obj, revision):
        self.value, self.revision, self.asked = codec.encode(obj), revision, []

    def range(self):
        resp = etcdrpc.RangeResponse()
        if self.value is not None:
            resp.kvs.add(key=KEY.encode(), value=self.value, mod_revision=self.revision)
        return resp

    def ask(self, request):
        if isinstance(request, etcdrpc.RangeRequest):
            self.asked.append("range")
            return self.range()
        self.asked.append("txn")
        resp = etcdrpc.TxnResponse()
        if request.compare[0].mod_revision == self.revision:
            self.value, self.revision = request.success[0].request_put.value, self.revision + 1
            resp.succeeded, resp.header.revision = True, self.revision
        else:
            resp.responses.add().response_range.CopyFrom(self.range())
        return resp


def pod(node="", rv=None):
    obj = {"metadata": {"name": "p"}, "spec": {"nodeName": node}}
    if rv is not None:
        obj["metadata"]["resourceVersion"] = str(rv)
    return obj


def bind(obj):
    if obj["spec"]["nodeName"]:
        raise ValueError("already bound")
    obj["spec"]["nodeName"] = "n1"
    return obj


def test_an_update_with_no_starting_copy_reads_etcd_then_writes():
    etcd = Etcd(pod(), 5)
    new, changed = drive(update_steps(KEY, bind), etcd.ask)
    assert etcd.asked == ["range", "txn"] and changed
    assert new["spec"]["nodeName"] == "n1" and new["metadata"]["resourceVersion"] == "6"


def test_an_update_from_a_current_cached_copy_asks_etcd_only_for_the_write():
    etcd = Etcd(pod(), 5)
    new, changed = drive(update_steps(KEY, bind, pod(rv=5), cached=True), etcd.ask)
    assert etcd.asked == ["txn"] and changed


def test_a_stale_cached_copy_fails_the_compare_and_the_update_is_made_on_etcds():
    etcd = Etcd({**pod(), "extra": 1}, 7)
    new, _ = drive(update_steps(KEY, bind, pod(rv=5), cached=True), etcd.ask)
    assert etcd.asked == ["txn", "txn"]
    assert new["extra"] == 1 and new["metadata"]["resourceVersion"] == "8"


def test_a_refusal_on_a_cached_copy_is_asked_again_on_etcds_before_it_counts():
    etcd = Etcd(pod(node="n2"), 7)
    with pytest.raises(ValueError, match="already bound"):
        drive(update_steps(KEY, bind, pod(node="n2", rv=7), cached=True), etcd.ask)
    assert etcd.asked == ["range"]
    etcd = Etcd(pod(), 7)  # the cache had it bound; etcd has it unbound again
    new, _ = drive(update_steps(KEY, bind, pod(node="n2", rv=5), cached=True), etcd.ask)
    assert etcd.asked == ["range", "txn"] and new["spec"]["nodeName"] == "n1"


def test_nothing_to_change_on_a_copy_read_from_etcd_writes_nothing():
    etcd = Etcd(pod(node="n1"), 5)
    current, changed = drive(update_steps(KEY, lambda o: o, pod(node="n1", rv=5)), etcd.ask)
    assert etcd.asked == [] and not changed and current["spec"]["nodeName"] == "n1"


def test_a_key_gone_from_etcd_is_key_not_found():
    etcd = Etcd(pod(), 5)
    etcd.value = None
    with pytest.raises(KeyNotFound):
        drive(update_steps(KEY, bind), etcd.ask)
