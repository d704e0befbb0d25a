"""Stage flannel's plan, from the lab's record: flanneld's command line, Docker's options."""
import pytest

from kfs.flannel.subnet import write_subnet_file
from kfs.lab.errors import LabError
from kfs.lab.lab import Lab
from kfs.lab.stages import flannel


@pytest.fixture
def lab(tmp_path, monkeypatch):
    lab = Lab(name="kfs", subnet="192.168.56.0/24", home=tmp_path)
    lab.state["nodes"] = 2
    monkeypatch.setattr(flannel, "subnet_file", lambda m: tmp_path / m.name / "subnet.env")
    return lab


def test_flanneld_runs_on_the_nodes_only_with_its_own_etcd_certificate(lab):
    assert [m.name for m in flannel.machines(lab)] == ["node1", "node2"]
    argv = [str(a) for a in flannel.daemon(lab, lab.machine("node1")).argv]
    assert argv[1:2] == ["flanneld"]
    assert "--etcd-endpoints=https://192.168.56.10:2379" in argv
    assert "--etcd-prefix=/coreos.com/network" in argv
    assert f"--etcd-certfile={lab.pki_dir / 'flanneld-etcd-client.crt'}" in argv
    assert f"--etcd-keyfile={lab.pki_dir / 'flanneld-etcd-client.key'}" in argv
    assert f"--etcd-cafile={lab.pki_dir / 'etcd-ca.crt'}" in argv
    assert "--iface=192.168.56.11" in argv and "--ip-masq" in argv


def test_flanneld_reaches_every_etcd_member(lab):
    lab.state["etcd_members"] = 3
    assert flannel.endpoints(lab) == ",".join(
        f"https://192.168.56.{i}:2379" for i in (10, 11, 12))


def test_docker_options_are_what_mk_docker_opts_makes_of_subnet_env(lab):
    node1 = lab.machine("node1")
    write_subnet_file(flannel.subnet_file(node1), "10.244.0.0/16", "10.244.7.0/24", 1450, True)
    assert flannel.docker_opts(node1) == ["--bip=10.244.7.1/24", "--mtu=1450", "--ip-masq=false"]
    assert flannel.subnet(node1) == "10.244.7.1/24"


def test_no_subnet_env_is_a_message_naming_flanneld_and_its_log(lab):
    with pytest.raises(LabError, match=r"flanneld on node2 wrote no FLANNEL_SUBNET .* see "
                                       r".*node2/flanneld.log"):
        flannel.docker_opts(lab.machine("node2"))
    assert flannel.subnet(lab.machine("node2")) is None


def test_a_nodes_docker_options_in_the_record_are_on_its_dockerds_command_line(lab):
    opts = ["--bip=10.244.7.1/24", "--mtu=1450", "--ip-masq=false"]
    lab.state["docker_opts"] = {"node1": opts}
    assert [str(a) for a in lab.machine("node1").dockerd().argv][-3:] == opts
    assert not any("--bip" in str(a) for a in lab.machine("node2").dockerd().argv)


def test_a_removed_nodes_docker_options_are_forgotten(lab):
    lab.state["docker_opts"] = {"node1": ["--bip=10.244.7.1/24"], "node3": ["--bip=10.244.9.1/24"]}
    flannel.forget_removed_machines(lab)
    assert lab.state["docker_opts"] == {"node1": ["--bip=10.244.7.1/24"]}
