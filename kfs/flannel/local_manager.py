"""The etcd subnet manager: get a subnet, keep it, watch everyone else's.

Mirrors ``pkg/subnet/etcd/local_manager.go`` (``LocalManager``: ``AcquireLease``,
``tryAcquireLease``, ``allocateSubnet``, ``RenewLease``, ``CompleteLease``,
``WatchLeases``) over the registry (``kfs.flannel.registry``, or a fake in the unit tests).

**Acquiring** (``acquire_lease``): list the leases; if one already carries this node's
``PublicIP`` and still fits the config, it is ours from before a restart: write it again
(fresh TTL, new attributes such as a new VtepMAC) and keep that subnet. Otherwise ask
for the subnet of our previous ``subnet.env`` if nobody holds it, else pick at random
among the first 100 free subnets between ``SubnetMin`` and ``SubnetMax``, and create it
in one transaction that fails if the key exists. Losing that race to another node just
means trying again (up to 10 times, as upstream): two flanneld never share a subnet.

**Keeping** (``complete_lease``): the lease is renewed ``renew_margin`` seconds before it
expires (``--subnet-lease-renew-margin``, upstream 60 minutes of a 24 hour TTL); a failed
renewal is retried a minute later at the most. If the lease disappears (someone deleted
the key, or it expired while etcd was out of reach), flanneld stops, as upstream does
("Lease has been revoked"): restarted, it asks for the same subnet again.

**Watching** (``watch_leases``): list, hand the backend every other node's lease, then
watch from the list's revision; when the watch fails (etcd down, a compacted revision),
back off (0.1 s doubling to 5 s), list again, and hand the backend the difference. One
watch serves both the backend and the own lease (upstream runs a second watch of its own
key for ``CompleteLease``).

What real Kubernetes does differently: upstream's watch resumes from the last revision it
saw and lists again only after a compaction; its leases carry IPv6 subnets too; the kube
subnet manager replaces all of this with the Node's ``spec.podCIDR``.
"""
import ipaddress
import logging
import random
import threading
import time

from kfs.flannel.config import parse_config
from kfs.flannel.lease import ADDED, REMOVED, LeaseWatcher
from kfs.flannel.registry import SubnetExists
from kfs.storage.errors import Expired, Unavailable

log = logging.getLogger("kfs.flannel.manager")

RACE_RETRIES = 10
SUBNET_TTL = 24 * 3600.0   # upstream's subnetTTL
MAX_CANDIDATES = 100
BACKOFF, MAX_BACKOFF = 0.1, 5.0


class LeaseLost(Exception):
    """Our lease was deleted or expired: the daemon shuts down, as upstream."""


class OutOfSubnets(Exception):
    pass


class LocalManager:
    def __init__(self, registry, previous_subnet=None, renew_margin=3600.0, ttl=SUBNET_TTL,
                 clock=time.monotonic, rand=None):
        if renew_margin <= 0 or renew_margin >= ttl:
            raise ValueError(f"the renew margin ({renew_margin:g}s) must be more than 0 and "
                             f"less than the lease TTL ({ttl:g}s)")
        self.registry, self.previous_subnet = registry, previous_subnet
        self.renew_margin, self.ttl, self.clock = renew_margin, ttl, clock
        self.rand = rand or random.Random()
        self.lease = None            # ours, once acquired; replaced by each renewal
        self.lost = False
        self._watch = None

    def get_network_config(self):
        return parse_config(self.registry.get_network_config())

    # -- acquiring --------------------------------------------------------------------------

    def acquire_lease(self, config, attrs):
        for _ in range(RACE_RETRIES):
            try:
                self.lease = self.try_acquire_lease(config, attrs)
                return self.lease
            except SubnetExists as e:
                log.info("subnet %s was taken meanwhile, trying again", e)
        raise OutOfSubnets("max retries reached trying to acquire a subnet")

    def try_acquire_lease(self, config, attrs):
        leases, _ = self.registry.get_subnets()
        mine = next((lease for lease in leases if lease.attrs.public_ip == attrs.public_ip), None)
        if mine is not None:
            if config.contains(mine.subnet):
                log.info("found lease %s for current IP %s, reusing", mine.subnet, attrs.public_ip)
                ttl = self.ttl if mine.lease_id else None   # a key without lease: a reservation
                return self.registry.update_subnet(mine.subnet, attrs, ttl, mine.lease_id)
            log.info("found lease %s for current IP %s but it does not fit the config, "
                     "deleting it", mine.subnet, attrs.public_ip)
            self.registry.delete_subnet(mine.subnet)
        subnet = self.previous_if_free(config, leases)
        if subnet is None:
            subnet = self.allocate_subnet(config, leases)
        lease = self.registry.create_subnet(subnet, attrs, self.ttl)
        log.info("allocated lease %s to current node (%s)", subnet, attrs.public_ip)
        return lease

    def previous_if_free(self, config, leases):
        prev = self.previous_subnet
        if prev is None or any(lease.subnet == prev for lease in leases):
            return None
        if not config.contains(prev):
            log.error("previously leased subnet %s does not fit the network config, ignoring",
                      prev)
            return None
        log.info("found previously leased subnet %s, reusing", prev)
        return prev

    def allocate_subnet(self, config, leases):
        """A random free subnet among the first 100 free ones (upstream's ``allocateSubnet``)."""
        taken = [lease.subnet for lease in leases]
        size = 1 << (32 - config.subnet_len)
        candidates = []
        address = int(config.subnet_min)
        while address <= int(config.subnet_max) and len(candidates) < MAX_CANDIDATES:
            sn = ipaddress.IPv4Network((address, config.subnet_len))
            if not any(sn.overlaps(t) for t in taken):
                candidates.append(sn)
            address += size
        if not candidates:
            raise OutOfSubnets(f"out of subnets: every /{config.subnet_len} of "
                               f"{config.network} is leased")
        return candidates[self.rand.randrange(len(candidates))]

    # -- keeping ----------------------------------------------------------------------------

    def renew_lease(self, lease):
        return self.registry.update_subnet(lease.subnet, lease.attrs, self.ttl, lease.lease_id)

    def next_renewal(self, lease):
        return lease.expiration - self.renew_margin

    def retry_delay(self):
        return min(60.0, max(1.0, self.renew_margin / 2))

    def complete_lease(self, stopped):
        """Renew our lease before it expires until `stopped` (an Event) is set; raises
        LeaseLost if the watch saw it go."""
        due = self.next_renewal(self.lease) if self.lease.expiration is not None else None
        while True:
            delay = None if due is None else max(0.0, due - self.clock())
            if stopped.wait(delay):
                break
            try:
                self.lease = self.renew_lease(self.lease)
                due = self.next_renewal(self.lease)
                log.info("lease %s renewed, expires in %.0fs", self.lease.subnet,
                         self.lease.expiration - self.clock())
            except Unavailable as e:
                due = self.clock() + self.retry_delay()
                log.error("error renewing lease (trying again in %.0fs): %s", self.retry_delay(), e)
        if self.lost:
            raise LeaseLost(f"lease {self.lease.subnet} has been revoked")

    # -- watching ---------------------------------------------------------------------------

    def watch_leases(self, handle, stopped, synced=None):
        """Call `handle(batch of Events)` for the other nodes' leases until `stopped`;
        `synced` (an Event) is set once the first list was handled."""
        watcher = LeaseWatcher(self.lease)
        backoff = BACKOFF
        while not stopped.is_set():
            try:
                leases, revision = self.registry.get_subnets()
                if not any(lease.subnet == self.lease.subnet for lease in leases):
                    return self.lose(stopped)
                self._handle(handle, watcher.reset(leases))
                if synced is not None:
                    synced.set()
                self._watch = self.registry.watch_subnets(revision + 1)
                if stopped.is_set():
                    break
                for event in self._watch:
                    backoff = BACKOFF
                    if event.lease.subnet == self.lease.subnet:
                        if event.type == REMOVED:
                            return self.lose(stopped)
                        continue
                    self._handle(handle, watcher.update([event]))
            except (Unavailable, Expired) as e:
                if stopped.is_set():
                    break
                log.warning("watch of subnet leases failed (%s); listing again in %.1fs", e,
                            backoff)
                stopped.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)

    @staticmethod
    def _handle(handle, batch):
        if not batch:
            return
        for event in batch:
            verb = "added" if event.type == ADDED else "removed"
            log.info("subnet %s %s (PublicIP %s)", event.lease.subnet, verb,
                     event.lease.attrs.public_ip if event.lease.attrs else "?")
        try:
            handle(batch)
        except Exception:
            log.exception("handling subnet events failed")

    def lose(self, stopped):
        log.error("lease %s has been revoked; shutting down", self.lease.subnet)
        self.lost = True
        stopped.set()

    def stop(self, stopped):
        """Set `stopped` and end the current watch (called from the signal handler)."""
        stopped.set()
        watch = self._watch
        if watch is not None:
            watch.cancel()


def start_thread(target, name, *args):
    thread = threading.Thread(target=target, args=args, daemon=True, name=name)
    thread.start()
    return thread
