"""The instructor's dashboard: its panels' contents from a lab's events and machines.
(The browser tier shows it in a real JupyterLab.)"""
from pathlib import Path

from kfs import viz
from kfs.util import wait_for
from kfs.viz import dashboard


class Machine:
    def __init__(self, name, containers=None):
        self.name, self.containers = name, containers

    def docker(self):
        if self.containers is None:
            raise ConnectionError("docker is down")
        return FakeDocker(self.containers)


class FakeDocker:
    def __init__(self, names):
        self.api = self
        self.names = names

    def containers(self):
        return [{"Names": [f"/{n}"]} for n in self.names]

    def close(self):
        pass


class Lab:
    name, stage = "kfsx", "machines"
    admin_kubeconfig = Path("/nonexistent/admin.kubeconfig")

    def __init__(self, machines):
        self.machines = machines
        self.nodes = machines[1:]


def event(uid, reason, name, when, count=1, type_="Normal", message="m"):
    return {"metadata": {"uid": uid}, "reason": reason, "type": type_, "count": count,
            "lastTimestamp": when, "message": message,
            "involvedObject": {"kind": "Pod", "name": name}}


def board(machines):
    return viz.Dashboard(Lab(machines), interval=60)


def test_the_containers_panel_has_a_column_per_machine_and_says_when_docker_is_down():
    b = board([Machine("cp", ["etcd-x"]), Machine("node1", ["k8s_POD_web_default_u_0"]),
               Machine("node2")])
    key, found = b.containers_snapshot()
    html, text = b.render_containers(found, 1)
    assert text.splitlines() == ["cp: etcd-x", "node1: k8s_POD_web_default_u_0",
                                 "node2: docker down"]
    assert html.count("<td") == 3 and "docker down" in html


def test_the_events_panel_shows_the_newest_first_and_escapes_messages():
    b = board([Machine("cp", [])])
    events = [event("a", "Scheduled", "web-1", "2026-12-01T10:00:00Z"),
              event("b", "Pulled", "web-1", "2026-12-01T10:00:05Z", message="<img>")]
    html, text = b.render_events(sorted(events, key=dashboard.event_time, reverse=True), 1)
    assert text.splitlines() == ["pod/web-1: Pulled", "pod/web-1: Scheduled"]
    assert "&lt;img&gt;" in html and "<img>" not in html


def test_before_the_lab_has_an_api_server_the_events_panel_says_so():
    b = board([Machine("cp", [])])
    key, events = b.events_snapshot()
    assert events is None
    assert "no API server" in b.render_events(events, 1)[1]


def test_a_panel_redraws_when_a_machines_containers_change():
    node1 = Machine("node1", [])
    b = board([node1])
    panel = b.containers.start()
    try:
        assert "node1: none" in panel.text
        node1.containers = ["k8s_echo_web_default_u_0"]
        panel.changed()
        wait_for(lambda: "k8s_echo_web" in panel.text, 10, what="the new container drawn")
        assert panel.pictures == 2
    finally:
        panel.stop()
