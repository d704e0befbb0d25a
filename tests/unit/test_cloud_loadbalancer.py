"""kfs load-balancer's logic and its file protocol with the netns cloud, without a lab."""
import asyncio
import json

from kfs.cloud import cloud
from kfs.cloud.loadbalancer import (FileForwarder, LoadBalancerServer, checks, http_healthy,
                                    listeners, pick, read_balancers)
from kfs.cloud.netns import NetnsCloud
from tests.unit.cloud_fakes import FakeInventory, lab_machines


def service(uid="1", ports=((80, 30080),), hc=None):
    spec = {"type": "LoadBalancer",
            "ports": [{"protocol": "TCP", "port": p, "nodePort": n} for p, n in ports]}
    if hc:
        spec["healthCheckNodePort"] = hc
    return {"metadata": {"name": "web", "namespace": "default", "uid": uid}, "spec": spec}


def node(name, ip):
    return {"metadata": {"name": name}, "status": {"addresses": [
        {"type": "InternalIP", "address": ip}]}}


NODES = [node("node1", "192.168.56.11"), node("node2", "192.168.56.12")]


def test_round_robin_takes_healthy_backends_in_turn_and_fails_open_when_none_is():
    backends = ["a", "b", "c"]
    assert [pick(backends, {"a": True, "b": False, "c": True}, t)[0] for t in range(4)] == \
        ["a", "c", "a", "c"]
    assert pick(backends, {"a": True, "b": False, "c": True}, 1) == ["c", "a"]
    assert pick(backends, {}, 2) == ["c", "a", "b"]   # nobody passes: try them all
    assert pick([], {}, 0) == []


def test_each_tcp_port_with_a_node_port_is_a_listener_and_udp_is_not_served():
    balancers = {"a1": {"name": "a1", "address": "10.0.0.200", "healthCheckPort": 31000,
                        "backends": ["n1", "n2"],
                        "ports": [{"protocol": "TCP", "port": 80, "nodePort": 30080},
                                  {"protocol": "UDP", "port": 53, "nodePort": 30053},
                                  {"protocol": "TCP", "port": 81, "nodePort": None}]}}
    assert listeners(balancers) == {("10.0.0.200", 80): ("a1", 30080)}
    assert checks(balancers) == {("n1", 31000), ("n2", 31000)}


def test_the_cloud_writes_a_file_per_balancer_and_deleting_removes_it(tmp_path):
    fwd = FileForwarder(tmp_path)
    c = NetnsCloud("kfs", FakeInventory(*lab_machines("cp")), forwarder=fwd)
    status = c.ensure_load_balancer("kfs", service(hc=31999), NODES)
    name = cloud.default_load_balancer_name(service())
    written = json.loads((tmp_path / f"{name}.json").read_text())
    assert written == {"name": name, "service": "default/web",
                       "address": status["ingress"][0]["ip"], "healthCheckPort": 31999,
                       "backends": ["192.168.56.11", "192.168.56.12"],
                       "ports": [{"protocol": "TCP", "port": 80, "nodePort": 30080}]}
    c.ensure_load_balancer_deleted("kfs", service())
    assert read_balancers(tmp_path) == {}


def test_a_restarted_cloud_keeps_the_addresses_already_served(tmp_path):
    first = NetnsCloud("kfs", FakeInventory(), forwarder=FileForwarder(tmp_path))
    a = first.ensure_load_balancer("kfs", service(uid="1"), NODES)["ingress"][0]["ip"]
    again = NetnsCloud("kfs", FakeInventory(), forwarder=FileForwarder(tmp_path))
    b = again.ensure_load_balancer("kfs", service(uid="2"), NODES)["ingress"][0]["ip"]
    assert a == "192.168.56.200" and b == "192.168.56.201"
    assert again.get_load_balancer("kfs", service(uid="1"))[1]


def test_a_balancer_served_before_a_restart_is_deleted_after_it(tmp_path):
    NetnsCloud("kfs", FakeInventory(), forwarder=FileForwarder(tmp_path)).ensure_load_balancer(
        "kfs", service(uid="1"), NODES)
    again = NetnsCloud("kfs", FakeInventory(), forwarder=FileForwarder(tmp_path))
    again.ensure_load_balancer_deleted("kfs", service(uid="1"))
    assert read_balancers(tmp_path) == {}


class FakeIp:
    """`ip` on the load balancer's device: records the commands, keeps the /32s."""

    def __init__(self):
        self.addresses, self.commands = {"192.168.56.199/24"}, []

    def __call__(self, argv, **kwargs):
        from types import SimpleNamespace
        self.commands.append(argv[1:])
        if argv[1:3] == ["-j", "addr"]:
            info = [{"family": "inet", "local": a.split("/")[0], "prefixlen": int(a.split("/")[1])}
                    for a in self.addresses]
            return SimpleNamespace(returncode=0, stdout=json.dumps([{"addr_info": info}]))
        (self.addresses.add if argv[2] == "add" else self.addresses.discard)(argv[3])
        return SimpleNamespace(returncode=0, stdout="", stderr="")


def test_the_load_balancer_puts_each_address_on_its_device_and_releases_it(tmp_path):
    ip = FakeIp()
    server = LoadBalancerServer(tmp_path, ip=ip)
    server.balancers = {"a1": {"name": "a1", "address": "192.168.56.200"}}
    server.sync_addresses()
    assert ip.addresses == {"192.168.56.199/24", "192.168.56.200/32"}
    server.balancers = {}
    server.sync_addresses()
    assert ip.addresses == {"192.168.56.199/24"}  # the machine's own address stays


def test_a_backend_is_healthy_when_its_healthz_answers_200():
    async def scenario():
        async def answer(reader, writer, status):
            await reader.readline()
            writer.write(f"HTTP/1.1 {status} x\r\n\r\n".encode())
            await writer.drain()
            writer.close()
        ok = await asyncio.start_server(lambda r, w: answer(r, w, 200), "127.0.0.1", 0)
        bad = await asyncio.start_server(lambda r, w: answer(r, w, 503), "127.0.0.1", 0)
        ports = [s.sockets[0].getsockname()[1] for s in (ok, bad)]
        results = [await http_healthy("127.0.0.1", p, 1.0) for p in ports]
        ok.close(), bad.close()
        refused = await http_healthy("127.0.0.1", 1, 1.0)
        return results + [refused]
    assert asyncio.run(scenario()) == [True, False, False]
