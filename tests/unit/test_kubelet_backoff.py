"""The exponential back-off behind CrashLoopBackOff and ImagePullBackOff."""
from kfs.kubelet.backoff import Backoff
from kfs.kubelet.fake_runtime import FakeClock


def test_back_off_starts_at_the_initial_delay_and_doubles_up_to_the_cap():
    b = Backoff(10, 60, FakeClock())
    assert [b.next("k") for _ in range(5)] == [10, 20, 40, 60, 60]


def test_an_event_inside_the_window_is_in_back_off_and_after_it_is_not():
    clock = FakeClock()
    b = Backoff(10, 300, clock)
    b.next("k")
    exited = clock()
    clock.advance(9.9)
    assert b.in_backoff_since("k", exited)
    clock.advance(0.2)
    assert not b.in_backoff_since("k", exited)


def test_an_entry_untouched_for_twice_the_cap_starts_over():
    clock = FakeClock()
    b = Backoff(10, 40, clock)
    b.next("k"), b.next("k"), b.next("k")
    clock.advance(81)
    assert b.next("k") == 10


def test_a_cap_below_the_initial_delay_wins():
    assert Backoff(10, 3, FakeClock()).next("k") == 3


def test_unknown_keys_are_not_in_back_off_and_forget_drops_a_pods_keys():
    b = Backoff(10, 300, FakeClock())
    assert not b.in_backoff_since("nope", 0)
    b.next("uid1/app/h"), b.next("uid2/app/h")
    b.forget("uid1")
    assert b.get("uid1/app/h") == 0 and b.get("uid2/app/h") == 10
