"""flannel's subnet manager against a real etcd (TLS, flanneld's own client certificate):
leases bound to etcd leases, the same subnet after a restart, a race of six flanneld,
expiry seen by the others' watch, renewal, and the watch's resync after etcd restarts.
Each test uses a prefix of its own in one etcd."""
import ipaddress
import random
import threading
import uuid

import pytest
from etcd3 import etcdrpc

from kfs.flannel.lease import ADDED, REMOVED, LeaseAttrs
from kfs.flannel.local_manager import LocalManager
from kfs.flannel.registry import ConfigNotFound
from kfs.util import wait_for
from tests.integration.flannel_etcd import start_flannel_etcd

CONFIG = '{"Network": "10.244.0.0/16", "SubnetLen": 24, "Backend": {"Type": "vxlan"}}'


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    plane = start_flannel_etcd(tmp_path_factory.mktemp("flannel-etcd"))
    yield plane
    plane.stop(remove=True)


@pytest.fixture
def prefix(etcd):
    prefix = f"/kfs-test-{uuid.uuid4().hex[:8]}/network"
    reg = etcd.registry(prefix)
    reg.kv.Put(etcdrpc.PutRequest(key=f"{prefix}/config".encode(), value=CONFIG.encode()))
    reg.close()
    return prefix


@pytest.fixture
def registries(etcd, prefix):
    made = []

    def make():
        made.append(etcd.registry(prefix))
        return made[-1]
    yield make
    for reg in made:
        reg.close()


class First(random.Random):
    def randrange(self, n):
        return 0


def attrs(ip, mac="aa:00:00:00:00:01"):
    return LeaseAttrs(ip, "vxlan", {"VNI": 1, "VtepMAC": mac})


def acquire(reg, ip, **kw):
    m = LocalManager(reg, **kw)
    return m, m.acquire_lease(m.get_network_config(), attrs(ip))


def raw(reg, key):
    resp = reg.kv.Range(etcdrpc.RangeRequest(key=key.encode()))
    return resp.kvs[0] if resp.kvs else None


def test_a_lease_is_a_key_with_upstreams_value_bound_to_an_etcd_lease(registries, prefix):
    reg = registries()
    m, lease = acquire(reg, "192.168.56.11", ttl=120, renew_margin=60)
    kv = raw(reg, f"{prefix}/subnets/{lease.subnet.network_address}-24")
    assert kv.value.decode() == ('{"PublicIP":"192.168.56.11","PublicIPv6":null,'
                                 '"BackendType":"vxlan","BackendData":{"VNI":1,'
                                 '"VtepMAC":"aa:00:00:00:00:01"}}')
    assert kv.lease == lease.lease_id
    ttl = reg.lease_stub.LeaseTimeToLive(etcdrpc.LeaseTimeToLiveRequest(ID=kv.lease)).TTL
    assert 110 <= ttl <= 120


def test_a_restarted_flanneld_gets_the_same_subnet_back(registries):
    _, first = acquire(registries(), "192.168.56.11")
    acquire(registries(), "192.168.56.12")
    _, again = acquire(registries(), "192.168.56.11")
    assert again.subnet == first.subnet and again.lease_id != first.lease_id


def test_six_flanneld_racing_for_the_same_subnet_get_six_subnets(registries):
    regs = [registries() for _ in range(6)]
    barrier, got = threading.Barrier(6), {}

    def race(i):
        m = LocalManager(regs[i], rand=First())
        config = m.get_network_config()
        barrier.wait()
        got[i] = m.acquire_lease(config, attrs(f"192.168.56.{20 + i}")).subnet
    threads = [threading.Thread(target=race, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(got) == 6 and len(set(got.values())) == 6
    leases, _ = regs[0].get_subnets()
    assert sorted(lease.subnet for lease in leases) == sorted(got.values())


def watching(reg, own_ip):
    """A manager with a lease, watching the others in a thread: (events, stop)."""
    m, _ = acquire(reg, own_ip)
    events, stopped = [], threading.Event()
    thread = threading.Thread(target=m.watch_leases, daemon=True,
                              args=(lambda batch: events.extend(
                                  (e.type, str(e.lease.subnet)) for e in batch), stopped))
    thread.start()
    return m, events, stopped, thread


def stop(m, stopped, thread):
    m.stop(stopped)
    thread.join(10)
    assert not thread.is_alive()


def test_a_lease_not_renewed_expires_and_the_others_watch_sees_it_go(registries):
    watcher, events, stopped, thread = watching(registries(), "192.168.56.11")
    _, short = acquire(registries(), "192.168.56.12", ttl=2, renew_margin=1)
    wait_for(lambda: (ADDED, str(short.subnet)) in events, 10, what="the lease seen")
    wait_for(lambda: (REMOVED, str(short.subnet)) in events, 15, what="the lease expired")
    stop(watcher, stopped, thread)


def test_a_renewed_lease_outlives_its_ttl(registries):
    reg = registries()
    m, lease = acquire(reg, "192.168.56.11", ttl=2, renew_margin=1)
    stopped = threading.Event()
    thread = threading.Thread(target=m.complete_lease, args=(stopped,), daemon=True)
    thread.start()
    wait_for(lambda: m.lease.lease_id != lease.lease_id, 10, what="a renewal")
    wait_for(lambda: reg.get_subnets()[0] and m.lease.expiration > lease.expiration + 2, 10,
             what="two renewals")
    assert [x.subnet for x in reg.get_subnets()[0]] == [lease.subnet]
    stopped.set()
    thread.join(10)


def test_after_etcd_restarts_the_watch_lists_again_and_goes_on(etcd, registries):
    watcher, events, stopped, thread = watching(registries(), "192.168.56.11")
    etcd.restart_etcd()
    _, later = acquire(registries(), "192.168.56.13")
    wait_for(lambda: (ADDED, str(later.subnet)) in events, 30, what="a lease after the restart")
    stop(watcher, stopped, thread)


def test_a_missing_config_is_config_not_found(etcd):
    reg = etcd.registry("/kfs-test-none/network")
    with pytest.raises(ConfigNotFound, match="/kfs-test-none/network/config"):
        reg.get_network_config()
    reg.close()


def test_a_deleted_key_is_a_removal_carrying_only_the_subnet(registries):
    watcher, events, stopped, thread = watching(registries(), "192.168.56.11")
    reg = registries()
    _, other = acquire(reg, "192.168.56.12")
    wait_for(lambda: (ADDED, str(other.subnet)) in events, 10, what="the lease seen")
    reg.delete_subnet(other.subnet)
    wait_for(lambda: (REMOVED, str(other.subnet)) in events, 10, what="the removal")
    assert ipaddress.IPv4Network(other.subnet) != watcher.lease.subnet
    stop(watcher, stopped, thread)
