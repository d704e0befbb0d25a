"""Fakes for the cloud-controller-manager's tests: an inventory, a forwarder, a cloud."""
from kfs.cloud.netns import LabInstance, NetnsCloud


class FakeInventory:
    """The lab's machines, as a list the test edits."""

    def __init__(self, *instances):
        self.machines = list(instances)

    def instances(self):
        return list(self.machines)

    def remove(self, name):
        self.machines = [m for m in self.machines if m.name != name]

    def stop(self, name):
        next(m for m in self.machines if m.name == name).running = False


class RecordingForwarder:
    """Records what a load balancer machine would be told to serve."""

    def __init__(self):
        self.serving, self.calls = {}, []

    def ensure(self, name, address, ports, backends, health_check_port, service=""):
        self.calls.append(("ensure", name))
        self.serving[name] = {"address": address, "ports": ports, "backends": backends,
                              "health_check_port": health_check_port}

    def delete(self, name):
        self.calls.append(("delete", name))
        self.serving.pop(name, None)

    def load(self):
        return {n: dict(s, name=n) for n, s in self.serving.items()}


def lab_machines(*names):
    return [LabInstance(n, f"192.168.56.{10 + i}", zone=f"lab-{'ab'[i % 2]}", region="lab")
            for i, n in enumerate(names)]


def fake_cloud(*names, lab="lab", pool=None):
    """A netns cloud over a FakeInventory and a RecordingForwarder: (cloud, inventory, fwd)."""
    inventory, forwarder = FakeInventory(*lab_machines(*names)), RecordingForwarder()
    return NetnsCloud(lab, inventory, pool=pool, forwarder=forwarder), inventory, forwarder

