"""The etcd subnet manager over a fake etcd: allocation, the same subnet after a restart,
two flanneld racing, renewal on a fake clock, a lost lease, the watch and its resync."""
import ipaddress
import random

import pytest

from kfs.flannel.config import parse_config
from kfs.flannel.lease import ADDED, REMOVED, LeaseAttrs
from kfs.flannel.local_manager import LeaseLost, LocalManager, OutOfSubnets
from tests.unit.flannel_fakes import CONFIG, FakeRegistry, FakeStop


def net(text):
    return ipaddress.IPv4Network(text)


def attrs(ip="192.168.56.11", mac="aa:00:00:00:00:01"):
    return LeaseAttrs(ip, "vxlan", {"VNI": 1, "VtepMAC": mac})


class First(random.Random):
    """Always picks the first free subnet: every manager wants the same one."""

    def randrange(self, n):
        return 0


def manager(registry, **kw):
    kw.setdefault("rand", First())
    return LocalManager(registry, clock=registry.clock, **kw)


def acquire(m, a=None):
    return m.acquire_lease(m.get_network_config(), a or attrs())


def test_a_lease_is_a_free_subnet_of_the_network_bound_to_an_etcd_lease():
    reg = FakeRegistry()
    reg.put_lease("10.244.1.0/24", "192.168.56.12")
    lease = acquire(manager(reg, ttl=600, renew_margin=60))
    assert lease.subnet == net("10.244.2.0/24")       # .0 is the network's, .1 is taken
    assert lease.expiration == reg.clock() + 600 and lease.lease_id
    assert reg.kvs[lease.subnet][0] == attrs()


def test_the_subnet_is_picked_at_random_among_the_first_100_free_ones():
    reg = FakeRegistry()
    m = LocalManager(reg, rand=random.Random(4), clock=reg.clock)
    picked = {acquire(m, attrs(f"192.168.56.{i}")).subnet for i in range(20, 40)}
    assert len(picked) == 20
    # each among the first 100 free then: after 19 picks, up to the 119th subnet
    assert all(net("10.244.1.0/24").network_address <= s.network_address
               <= net("10.244.119.0/24").network_address for s in picked)
    assert max(picked) > net("10.244.20.0/24")    # not simply the first ones in order


def test_a_full_network_says_out_of_subnets():
    reg = FakeRegistry(config='{"Network": "10.0.0.0/28", "Backend": {"Type": "vxlan"}}')
    m = manager(reg)
    got = [acquire(m, attrs(f"192.168.56.{i}")).subnet for i in (11, 12, 13)]
    assert got == [net("10.0.0.4/30"), net("10.0.0.8/30"), net("10.0.0.12/30")]
    with pytest.raises(OutOfSubnets, match="out of subnets"):
        acquire(m, attrs("192.168.56.14"))


def test_a_restarted_flanneld_gets_its_subnet_back_by_its_public_ip():
    reg = FakeRegistry()
    reg.put_lease("10.244.1.0/24", "192.168.56.12")
    first = acquire(manager(reg, rand=random.Random()))
    again = acquire(manager(reg), attrs(mac="aa:00:00:00:00:77"))   # a new device, a new MAC
    assert again.subnet == first.subnet
    assert reg.kvs[first.subnet][0].backend_data["VtepMAC"] == "aa:00:00:00:00:77"
    assert first.lease_id not in reg.leases     # the old etcd lease is revoked
    assert ("create_subnet", str(first.subnet)) not in reg.calls[-3:]


def test_the_previous_subnet_from_subnet_env_is_asked_for_again_if_free():
    reg = FakeRegistry()
    assert acquire(manager(reg, previous_subnet=net("10.244.42.0/24"))).subnet == \
        net("10.244.42.0/24")
    reg.put_lease("10.244.43.0/24", "192.168.56.12")
    other = acquire(manager(reg, previous_subnet=net("10.244.43.0/24")), attrs("192.168.56.13"))
    assert other.subnet == net("10.244.1.0/24")     # taken by someone else: a new one


def test_a_lease_that_no_longer_fits_the_config_is_dropped_for_a_new_one():
    reg = FakeRegistry(config=CONFIG.replace('"SubnetLen": 24', '"SubnetLen": 25'))
    reg.put_lease("10.244.9.0/24", "192.168.56.11")
    lease = acquire(manager(reg))
    assert lease.subnet == net("10.244.0.128/25")
    assert net("10.244.9.0/24") not in reg.kvs


def test_two_flanneld_racing_for_one_subnet_never_share_it():
    reg = FakeRegistry()
    a, b = manager(reg), manager(reg)
    won = {}
    reg.before_create = lambda subnet: won.setdefault("b", acquire(b, attrs("192.168.56.12")))
    lost = acquire(a, attrs("192.168.56.11"))   # listed before b took it, created after
    assert won["b"].subnet == net("10.244.1.0/24") and lost.subnet == net("10.244.2.0/24")
    assert [c for c in reg.calls if c[0] == "create_subnet"] == [
        ("create_subnet", "10.244.1.0/24"), ("create_subnet", "10.244.1.0/24"),
        ("create_subnet", "10.244.2.0/24")]


def test_the_lease_is_renewed_the_margin_before_it_expires():
    reg = FakeRegistry()
    m = manager(reg, ttl=600, renew_margin=60)
    start = reg.clock()
    acquire(m)
    stop = FakeStop(reg.clock, until=start + 2000)
    m.complete_lease(stop)
    renewals = [w for w in stop.waits]
    assert renewals[:3] == [540, 540, 540]        # 600 s leases, each renewed at 540 s
    assert [c for c in reg.calls if c[0] == "update_subnet"] == \
        [("update_subnet", "10.244.1.0/24")] * 3
    assert len(reg.leases) == 1                  # each renewal revoked the lease before it


def test_a_failed_renewal_is_retried_soon_not_at_the_next_period():
    reg = FakeRegistry()
    m = manager(reg, ttl=600, renew_margin=60)
    acquire(m)

    class Flaky(FakeStop):
        def wait(self, timeout=None):
            reg.down = not self.waits   # etcd is down for the first renewal only
            return super().wait(timeout)
    stop = Flaky(reg.clock, until=reg.clock() + 700)
    m.complete_lease(stop)
    assert stop.waits[:3] == [540, 30, 540]
    assert net("10.244.1.0/24") in reg.kvs       # renewed before it ran out


def test_short_course_ttls_work_in_seconds():
    reg = FakeRegistry()
    m = manager(reg, ttl=6, renew_margin=3)
    acquire(m)
    stop = FakeStop(reg.clock, until=reg.clock() + 20)
    m.complete_lease(stop)
    assert stop.waits[:6] == [3, 3, 3, 3, 3, 3]
    assert net("10.244.1.0/24") in reg.kvs


def test_a_margin_not_below_the_ttl_is_refused():
    with pytest.raises(ValueError, match="renew margin"):
        LocalManager(FakeRegistry(), renew_margin=3600, ttl=600)


def watch(m, reg, until_batches, on_batch=lambda n: None):
    """Run watch_leases until `until_batches` batches came; returns them."""
    batches = []
    stop = FakeStop(reg.clock, until=reg.clock() + 3600)

    def handle(batch):
        batches.append([(e.type, str(e.lease.subnet), e.lease.attrs.public_ip) for e in batch])
        on_batch(len(batches))
        if len(batches) >= until_batches:
            stop.set()
    m.watch_leases(handle, stop)
    return batches, stop


def test_the_watch_lists_the_others_then_follows_their_changes():
    reg = FakeRegistry()
    reg.put_lease("10.244.2.0/24", "192.168.56.12")
    m = manager(reg)
    acquire(m)

    def change(n):
        if n == 1:
            reg.put_lease("10.244.3.0/24", "192.168.56.13")
            reg.delete_subnet(net("10.244.2.0/24"))
    batches, _ = watch(m, reg, 3, change)
    assert batches == [[(ADDED, "10.244.2.0/24", "192.168.56.12")],
                       [(ADDED, "10.244.3.0/24", "192.168.56.13")],
                       [(REMOVED, "10.244.2.0/24", "192.168.56.12")]]


def test_an_expired_lease_is_removed_by_the_watch():
    reg = FakeRegistry()
    reg.put_lease("10.244.2.0/24", "192.168.56.12", ttl=30)
    m = manager(reg)
    acquire(m)
    batches, _ = watch(m, reg, 2, lambda n: reg.clock.advance(31))
    assert batches[1] == [(REMOVED, "10.244.2.0/24", "192.168.56.12")]


def test_after_an_etcd_outage_the_watch_lists_again_and_reports_what_it_missed():
    reg = FakeRegistry()
    reg.put_lease("10.244.2.0/24", "192.168.56.12")
    m = manager(reg)
    acquire(m)

    def outage(n):
        if n == 1:
            reg.down = True
            reg.kvs.pop(net("10.244.2.0/24"))      # gone, and no watch saw it
            reg.log.clear()
            reg.put_lease("10.244.4.0/24", "192.168.56.14")
            reg.log.clear()

    class Recovering(FakeStop):
        def wait(self, timeout=None):
            reg.down = False
            return super().wait(timeout)
    batches = []
    stop = Recovering(reg.clock, until=reg.clock() + 3600)

    def handle(batch):
        batches.append(sorted((e.type, str(e.lease.subnet)) for e in batch))
        outage(len(batches))
        if len(batches) == 2:
            stop.set()
    m.watch_leases(handle, stop)
    assert batches[1] == [(ADDED, "10.244.4.0/24"), (REMOVED, "10.244.2.0/24")]
    assert stop.waits and stop.waits[0] == 0.1      # backed off before listing again


def test_our_own_lease_deleted_stops_the_daemon():
    reg = FakeRegistry()
    m = manager(reg)
    own = acquire(m)
    reg.put_lease("10.244.2.0/24", "192.168.56.12")
    batches, stop = watch(m, reg, 99, lambda n: reg.delete_subnet(own.subnet))
    assert m.lost and stop.is_set() and len(batches) == 1
    with pytest.raises(LeaseLost, match="10.244.1.0/24"):
        m.complete_lease(stop)


def test_the_config_is_read_through_the_registry():
    reg = FakeRegistry()
    assert manager(reg).get_network_config() == parse_config(CONFIG)
