"""csrcleaner as its own process (`kfs controller-manager --controllers csrcleaner`, with the
controller manager's identity, so RBAC lets it delete CSRs or not) against a real API server
and etcd: a CSR denied two hours ago is deleted, one denied now is kept."""
from datetime import datetime, timedelta, timezone

import pytest

from kfs.client import ApiError, Client
from kfs.util import wait_for
from tests.controller_objects import csr
from tests.integration.test_drain import ControllerManagerProcess


@pytest.fixture(scope="module")
def cleaner(cp, tmp_path_factory):
    process = ControllerManagerProcess(cp, tmp_path_factory.mktemp("csrcleaner"),
                                       controllers="csrcleaner")
    yield process
    process.stop()


def denied(client, name, ago):
    obj = client.create(csr(name))
    when = (datetime.now(timezone.utc) - ago).strftime("%Y-%m-%dT%H:%M:%SZ")
    obj["status"] = {"conditions": [{"type": "Denied", "status": "True", "reason": "Test",
                                     "message": "no", "lastUpdateTime": when,
                                     "lastTransitionTime": when}]}
    return client.replace(obj, subresource="approval")


def exists(client, name):
    try:
        client.get("certificatesigningrequests", name)
        return True
    except ApiError as e:
        if e.code == 404:
            return False
        raise


def test_the_controller_manager_deletes_a_csr_denied_an_hour_ago_and_keeps_a_new_one(
        cp, cleaner):
    client = Client.from_kubeconfig(cp.kubeconfig())
    denied(client, "cleaner-old", timedelta(hours=2))
    denied(client, "cleaner-new", timedelta(minutes=1))
    cleaner.start()  # it lists both, and judges each
    wait_for(lambda: not exists(client, "cleaner-old"), 30,
             what="the CSR denied 2 h ago to be deleted")
    assert exists(client, "cleaner-new")
    assert "cleaning CSR cleaner-old: denied more than 1h ago" in cleaner.log.read_text()
    client.delete("certificatesigningrequests", "cleaner-new")
