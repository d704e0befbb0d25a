"""The lab's shape, derived from its record: no root, nothing created."""
import pytest

from kfs.lab import stages
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab


@pytest.fixture
def lab(tmp_path):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 2
    return lab


def test_machines_are_cp_then_nodes_at_dot_10_and_up(lab):
    assert [(m.name, m.ip) for m in lab.machines] == [
        ("cp", "192.168.56.10"), ("node1", "192.168.56.11"), ("node2", "192.168.56.12")]
    assert lab.host_ip == "192.168.56.1"


def test_names_of_namespaces_devices_and_chains_carry_the_lab_name(tmp_path):
    lab = Lab(name="kfst", subnet="192.168.57.0/24", home=tmp_path)
    lab.state["nodes"] = 1
    node = lab.machine("node1")
    assert (lab.bridge, lab.chain, node.netns, node.ip) == (
        "kfst0", "KFST-LAB", "kfst-node1", "192.168.57.11")
    assert lab.dir == tmp_path / "lab-kfst"
    assert len(node.veth) <= 15  # Linux interface names


def test_each_machine_has_its_own_docker_socket_data_root_and_exec_root(lab):
    a, b = lab.machine("node1"), lab.machine("node2")
    paths_a = {str(x) for x in a.dockerd().argv if "/" in str(x)}
    paths_b = {str(x) for x in b.dockerd().argv if "/" in str(x)}
    assert len(paths_a) == 6 and not paths_a & paths_b
    assert a.env["DOCKER_HOST"] != b.env["DOCKER_HOST"]
    assert len(str(a.run_dir / "containerd" / "containerd.sock.ttrpc")) < 108


def test_unknown_machine_error_lists_the_machines(lab):
    with pytest.raises(LabError, match="no machine 'node7'.*cp, node1, node2"):
        lab.machine("node7")


def test_the_subnet_is_remembered_by_the_record(tmp_path):
    lab = Lab(name="kfsx", subnet="10.99.0.0/24", home=tmp_path)
    lab.save()
    assert str(Lab(name="kfsx", home=tmp_path).subnet) == "10.99.0.0/24"


def test_bring_to_stops_later_stages_latest_first_then_brings_up_in_order(monkeypatch, lab):
    calls = []
    fns = {f"{s}:up": lambda lab, target, progress, s=s: calls.append(("up", s, target))
           for s in stages.STAGES}
    fns.update({f"{s}:down": lambda lab, progress, s=s: calls.append(("down", s))
                for s in stages.STAGES})
    monkeypatch.setattr(stages, "REGISTRY", {s: (f"{s}:up", f"{s}:down") for s in stages.STAGES})
    monkeypatch.setattr(stages, "_resolve", fns.get)
    stages.bring_to(lab, "kubelet", progress=print)
    assert calls == [("down", s) for s in reversed(stages.STAGES[2:])] + [
        ("up", "machines", "kubelet"), ("up", "kubelet", "kubelet")]


def test_at_least_orders_stages():
    assert stages.at_least("apiserver", "scheduler")
    assert not stages.at_least("scheduler", "apiserver")
    assert not stages.at_least("machines", None)


def test_a_stage_whose_module_does_not_exist_yet_is_a_clear_error(monkeypatch, lab):
    monkeypatch.setitem(stages.REGISTRY, "kubelet", ("kfs.no_such_module:up", None))
    with pytest.raises(LabError, match="stage 'kubelet' is not part of kfs yet"):
        stages.bring_to(lab, "kubelet", progress=print)


def test_up_without_a_stage_keeps_the_labs_current_stage(monkeypatch, lab):
    targets = []
    monkeypatch.setattr(stages, "bring_to", lambda lab, target, progress: targets.append(target))
    monkeypatch.setattr("kfs.lab.lab.check_host", lambda: None)
    lab.state["stage"] = "scheduler"
    lab.up(progress=print)
    lab.up(stage="kubelet", progress=print)
    lab.up(progress=print)
    assert targets == ["scheduler", "kubelet", "kubelet"]


def test_a_machines_mac_follows_from_its_address_so_a_recreated_machine_keeps_it():
    from kfs.lab.netns import mac_for
    assert mac_for("192.168.56.11/24") == "02:6b:c0:a8:38:0b"
    assert mac_for("192.168.56.11") != mac_for("192.168.56.12")


def test_each_stage_of_kfs_today_has_its_module_in_kfs_lab_stages():
    assert stages.available() == ["machines", "kubelet", "apiserver", "scheduler",
                                  "controller-manager", "proxy", "dns", "flannel", "cloud"]
    for stage in stages.available():
        up, down = stages.REGISTRY[stage]
        assert up.startswith("kfs.lab.stages.") and stages._resolve(up)
        assert down is None or stages._resolve(down)


def test_the_stages_to_come_are_not_part_of_kfs_yet(lab, monkeypatch):
    monkeypatch.setitem(stages.REGISTRY, "flannel", ("kfs.lab.stages.no_such_stage:up", None))
    with pytest.raises(LabError, match="stage 'flannel' is not part of kfs yet; available: "
                                       "machines, kubelet, apiserver, scheduler, controller-"
                                       "manager, proxy"):
        stages.bring_to(lab, "flannel", progress=print)


def test_the_proxy_runs_on_cp_and_each_node_with_upstreams_flags(lab):
    from kfs.lab.stages import proxy
    assert [m.name for m in proxy.machines(lab)] == ["cp", "node1", "node2"]
    argv = proxy.daemon(lab, lab.machine("node1"), "proxy").argv
    assert argv[1:] == ["proxy", "--kubeconfig", str(lab.kubeconfig("kube-proxy")),
                        "--hostname-override", "node1", "--cluster-cidr", "172.17.0.0/16",
                        "--nodeport-addresses", "192.168.56.0/24"]
    assert "10.244.0.0/16" in proxy.daemon(lab, lab.machine("node1"), "flannel").argv


def test_a_change_of_etcd_members_whose_old_members_are_down_says_first_that_it_starts_empty(lab):
    from kfs.lab.stages import apiserver
    lab.state.update(stage="cloud", etcd_cluster=["cp"])
    said = apiserver.etcd_move(lab, 3)
    assert said.startswith("etcd goes from 1 member to 3: ") and "EMPTY" in said
    assert "kfs lab up --stage cloud" in said


def test_keeping_the_number_of_etcd_members_says_nothing(lab):
    from kfs.lab.stages import apiserver
    lab.state.update(etcd_cluster=["cp", "node1", "node2"])
    assert apiserver.etcd_move(lab, 3) is None and apiserver.etcd_move(lab, None) is None
    assert apiserver.etcd_move(Lab(name="kfs", home=lab.home / "fresh"), 3) is None  # a new lab
