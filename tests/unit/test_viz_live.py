"""LiveImage, the mechanism of the live view: a background thread replaces an image
widget's PNG when what it would draw changes. (The browser tier checks that a real
JupyterLab shows each new picture.)"""
import threading

import pytest

from kfs import viz
from kfs.util import wait_for


class Scene:
    """A snapshot source whose state a test changes; counts the renders."""

    def __init__(self):
        self.state, self.renders, self.fail = "a", 0, None

    def snapshot(self):
        if self.fail:
            raise self.fail
        return self.state, self.state

    def render(self, payload, number):
        self.renders += 1
        return f"png of {payload}".encode(), f"shows {payload}"


@pytest.fixture
def scene():
    return Scene()


@pytest.fixture
def live(scene):
    image = viz.LiveImage(scene.snapshot, scene.render, interval=60, settle=0.01).start()
    yield image
    image.stop()


def test_a_live_image_draws_its_first_picture_when_it_starts(live, scene):
    assert live.pictures == 1 and bytes(live.image.value) == b"png of a"
    assert "picture 1" in live.caption.value and "shows a" in live.caption.value


def test_a_change_it_is_told_of_is_drawn_without_waiting_for_the_timer(live, scene):
    scene.state = "b"
    live.changed()
    wait_for(lambda: live.pictures == 2, 10, what="the second picture")
    assert bytes(live.image.value) == b"png of b" and live.text == "shows b"


def test_nothing_is_redrawn_while_the_snapshot_stays_the_same(live, scene):
    for _ in range(3):
        assert live.refresh() is False
    assert scene.renders == 1 and live.pictures == 1


def test_the_timer_redraws_what_no_watch_reported(scene):
    image = viz.LiveImage(scene.snapshot, scene.render, interval=0.05).start()
    try:
        scene.state = "c"
        wait_for(lambda: image.pictures == 2, 10, what="a picture from the timer")
    finally:
        image.stop()


def test_a_failing_snapshot_is_said_in_the_caption_and_the_picture_stays(live, scene):
    scene.fail = ConnectionError("API server down")
    assert live.refresh() is False
    assert "API server down" in live.caption.value
    assert bytes(live.image.value) == b"png of a"
    scene.fail = None
    assert live.refresh() is True  # drawn again once it works, even with the same state


def test_stop_ends_the_refresher_thread_and_says_so(live):
    thread = live._thread
    live.stop()
    assert not thread.is_alive() and not live.running
    assert "stopped" in live.caption.value


def test_closing_its_widget_stops_the_refresher(live):
    live.image.close()
    live.changed()
    wait_for(lambda: not live.running, 10, what="the refresher to stop")


def test_two_live_images_keep_their_own_pictures(scene):
    other = Scene()
    other.state = "x"
    a = viz.LiveImage(scene.snapshot, scene.render, interval=60, settle=0.01).start()
    b = viz.LiveImage(other.snapshot, other.render, interval=60, settle=0.01).start()
    try:
        other.state = "y"
        b.changed()
        wait_for(lambda: b.pictures == 2, 10, what="b's second picture")
        assert a.pictures == 1 and bytes(a.image.value) == b"png of a"
        assert bytes(b.image.value) == b"png of y"
        viz.stop_all()
        assert not a.running and not b.running
    finally:
        a.stop()
        b.stop()


def test_the_refresher_prints_nothing(capfd, scene):
    image = viz.LiveImage(scene.snapshot, scene.render, interval=60, settle=0.01).start()
    scene.state, scene.fail = "b", None
    image.changed()
    wait_for(lambda: image.pictures == 2, 10, what="the second picture")
    scene.fail = RuntimeError("boom")
    image.changed()
    wait_for(lambda: "boom" in image.caption.value, 10, what="the error in the caption")
    image.stop()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_live_views_informer_warnings_are_dropped_so_they_never_reach_a_cell(caplog):
    import logging
    log = logging.getLogger("kfs.client")
    thread = threading.Thread(target=log.warning, args=("pods: refused; retrying",),
                              name=f"{viz.live.THREAD_PREFIX}informer-pods")
    thread.start()
    thread.join()
    log.warning("from the notebook's own informer")
    assert [r.getMessage() for r in caplog.records] == ["from the notebook's own informer"]


@pytest.fixture
def offline_lab(tmp_path):
    """A lab that has no API server and whose Docker daemons are down."""
    from kfs.lab.lab import Lab
    lab = Lab(name="kfsunit", subnet="192.168.99.0/24", home=tmp_path)
    lab.state.update(nodes=2, stage="machines")
    return lab


def test_a_live_view_without_an_api_server_draws_the_machines_from_docker(offline_lab):
    view = viz.LiveView(offline_lab, interval=60).show()
    try:
        assert view.pictures == 1 and view.running and view.informers == []
        assert view.description.splitlines() == ["cp: no pods", "node1: no pods",
                                                 "node2: no pods"]
        assert view.pods() == set()
    finally:
        view.stop()
    assert not view.running


def test_showing_a_live_view_again_with_the_same_title_stops_the_first(offline_lab):
    first = viz.LiveView(offline_lab, interval=60).show()
    other = viz.LiveView(offline_lab, interval=60, title="another picture").show()
    again = viz.LiveView(offline_lab, interval=60).show()
    try:
        assert not first.running and other.running and again.running
    finally:
        for view in (first, other, again):
            view.stop()


def echo_abc(phase):
    return {"metadata": {"name": "echo-abc", "namespace": "default"},
            "spec": {"nodeName": "node1"}, "status": {"phase": phase}}


def test_each_live_picture_marks_what_changed_in_the_last_seconds(offline_lab, monkeypatch):
    running = []   # the pods the machines' Docker runs, as the test says
    monkeypatch.setattr(viz.picture, "pods_from_docker",
                        lambda m: [p for p in running if p["spec"]["nodeName"] == m.name])
    view = viz.LiveView(offline_lab, interval=60).show()
    try:
        assert "since the last" not in view.description  # the first marks nothing
        running.append(echo_abc("Pending"))
        assert view.live.refresh() is True
        assert "new since the last 15 s: pod echo-abc (node1)" in view.description
        running[0] = echo_abc("Running")   # its next frame still marks it new
        assert view.live.refresh() is True
        assert "new since the last 15 s: pod echo-abc (node1)" in view.description
        running.clear()
        assert view.live.refresh() is True
        assert view.description.splitlines()[-1] == \
            "gone since the last 15 s: pod echo-abc (node1)"
        assert view.live.refresh() is False  # nothing changed: the picture stays
    finally:
        view.stop()


def test_a_live_views_marks_expire_after_mark_hold(offline_lab, monkeypatch):
    running = []
    monkeypatch.setattr(viz.picture, "pods_from_docker",
                        lambda m: [p for p in running if p["spec"]["nodeName"] == m.name])
    clock = [1000.0]
    monkeypatch.setattr(viz.live.time, "monotonic", lambda: clock[0])
    view = viz.LiveView(offline_lab, interval=60).show()
    try:
        running.append(echo_abc("Pending"))
        assert view.live.refresh() is True
        clock[0] += viz.live.MARK_HOLD + 1
        running[0] = echo_abc("Running")
        assert view.live.refresh() is True
        assert "since the last" not in view.description
    finally:
        view.stop()
