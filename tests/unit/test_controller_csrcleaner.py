"""csrcleaner (kfs/controllers/csrcleaner.py) on FakeApi: old CSRs deleted, as upstream's
cleaner: an hour after they were issued, denied or failed, a day after they were made if
nobody decided, at once when their certificate has expired."""
import base64
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kfs.controllers.csrcleaner import CSRCleaner, why_delete
from kfs.controllers.manager import SharedInformers
from tests.controller_objects import csr
from tests.fakes import FakeApi

NOW = datetime(2026, 12, 3, 12, 0, 0, tzinfo=timezone.utc)


def stamp(ago):
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%SZ")


def certificate(not_after):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "system:node:node3")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - timedelta(days=2)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    return base64.b64encode(cert.public_bytes(serialization.Encoding.PEM)).decode()


def request(created=timedelta(minutes=5), decided=None, decision="Approved",
            issued_until=None):
    obj = csr()
    obj["metadata"]["creationTimestamp"] = stamp(created)
    status = {}
    if decided is not None:
        status["conditions"] = [{"type": decision, "status": "True", "reason": "R",
                                 "message": "m", "lastUpdateTime": stamp(decided)}]
    if issued_until is not None:
        status["certificate"] = certificate(issued_until)
    obj["status"] = status
    return obj


LATER = NOW + timedelta(days=300)


@pytest.mark.parametrize("obj, reason", [
    (request(decided=timedelta(hours=2), issued_until=LATER), "issued more than 1h ago"),
    (request(decided=timedelta(minutes=10), issued_until=LATER), None),
    (request(decided=timedelta(hours=2)), None),  # approved, not yet signed: kept
    (request(decided=timedelta(hours=2), decision="Denied"), "denied more than 1h ago"),
    (request(decided=timedelta(minutes=59), decision="Denied"), None),
    (request(decided=timedelta(hours=2), decision="Failed"), "failed more than 1h ago"),
    (request(created=timedelta(hours=25)), "pending for more than 24h"),
    (request(created=timedelta(hours=23)), None),
    (request(decided=timedelta(minutes=10), issued_until=NOW - timedelta(minutes=1)),
     "its certificate has expired"),
], ids=["issued-2h", "issued-10m", "approved-unsigned", "denied-2h", "denied-59m",
        "failed-2h", "pending-25h", "pending-23h", "expired"])
def test_a_csr_is_cleaned_by_upstreams_deadlines(obj, reason):
    assert why_delete(obj, NOW.timestamp()) == reason


def test_a_time_it_cannot_read_keeps_the_csr_rather_than_failing():
    obj = request(decided=timedelta(hours=2), decision="Denied")
    obj["status"]["conditions"][0]["lastUpdateTime"] = "2026-12-03T09:00:00.123456Z"
    assert why_delete(obj, NOW.timestamp()) is None
    pending = request()
    pending["metadata"]["creationTimestamp"] = "yesterday"
    assert why_delete(pending, NOW.timestamp()) is None


def setup(*objects):
    api = FakeApi(*objects)
    cleaner = CSRCleaner(api, SharedInformers(api, api.informer), wall=NOW.timestamp)
    api.replay()
    return api, cleaner


def test_the_cleaner_deletes_an_old_issued_csr_and_keeps_a_fresh_one():
    old = request(decided=timedelta(hours=3), issued_until=LATER)
    fresh = request(decided=timedelta(minutes=3), issued_until=LATER)
    fresh["metadata"]["name"] = "csr-2"
    api, cleaner = setup(old, fresh)
    cleaner.drain()
    assert [o["metadata"]["name"] for o in api.all("certificatesigningrequests")] == ["csr-2"]
    assert [a[:3] for a in api.verbs("delete")] == [
        ("delete", "certificatesigningrequests", "csr-1")]


def test_the_hourly_resync_finds_a_csr_that_has_grown_old_since_it_last_changed():
    api, cleaner = setup(request(created=timedelta(hours=23)))
    cleaner.drain()
    assert len(api.all("certificatesigningrequests")) == 1
    cleaner.wall = (NOW + timedelta(hours=2)).timestamp  # nothing changed; time went by
    cleaner.resync()
    assert len(cleaner.queue) == 1
    cleaner.drain()
    assert api.all("certificatesigningrequests") == []
    assert cleaner.resync_period == 3600
