"""The Vagrant provider, against a fake `vagrant` executable on PATH (a script that answers
from a state file, as the real one answers from VirtualBox)."""
import json
import stat
import sys

import pytest

from kfs.cloud import cloud
from kfs.cloud.vagrant import VagrantCloud, parse_ssh_config, parse_status

FAKE_VAGRANT = """#!{python}
import json, pathlib, sys
state_file = pathlib.Path(__file__).with_name("vms.json")
vms = json.loads(state_file.read_text())
with open(pathlib.Path(__file__).with_name("calls.log"), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "status" and args == ["--machine-readable"]:
    for name, vm in vms.items():
        print(f"1700000000,{{name}},metadata,provider,virtualbox")
        print(f"1700000000,{{name}},provider-name,virtualbox")
        print(f"1700000000,{{name}},state,{{vm['state']}}")
        print(f"1700000000,{{name}},state-human-short,{{vm['state'].replace('_', ' ')}}")
        print(f"1700000000,{{name}},state-human-long,The VM is %!(VAGRANT_COMMA) well...")
    print("1700000000,,ui,info,Current machine states:")
elif cmd == "ssh-config" and args and args[0] in vms:
    name = args[0]
    print(f"Host {{name}}\\n  HostName {{vms[name].get('host', '127.0.0.1')}}\\n  User vagrant\\n"
          f"  Port {{vms[name].get('port', 2222)}}\\n  UserKnownHostsFile /dev/null\\n")
elif cmd == "halt" and args and args[0] in vms:
    vms[args[0]]["state"] = "poweroff"
    state_file.write_text(json.dumps(vms))
    print(f"==> {{args[0]}}: Attempting graceful shutdown of VM...")
else:
    print(f"The machine with the name '{{args[0] if args else ''}}' was not found configured "
          "for this Vagrant environment.", file=sys.stderr)
    sys.exit(1)
"""


@pytest.fixture
def vagrant(tmp_path, monkeypatch):
    """Writes the fake's VMs; returns (cloud, set_vms, calls)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "vagrant"
    exe.write_text(FAKE_VAGRANT.format(python=sys.executable))
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")

    def set_vms(**vms):
        (bin_dir / "vms.json").write_text(json.dumps(vms))

    def calls():
        log = bin_dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    set_vms(cp={"state": "running", "port": 2222}, node1={"state": "running", "port": 2200},
            node2={"state": "poweroff"}, node3={"state": "not_created"})
    return VagrantCloud(lab="vagrant", directory=str(tmp_path)), set_vms, calls


def node(name, provider_id=None):
    n = {"metadata": {"name": name}, "spec": {}}
    if provider_id:
        n["spec"]["providerID"] = provider_id
    return n


def test_machine_readable_status_parses_into_states_per_vm():
    text = ("1,cp,metadata,provider,virtualbox\n1,cp,state,running\n"
            "1,node1,state,not_created\n1,,ui,info,Current machine states%!(VAGRANT_COMMA) x\n")
    assert parse_status(text) == {"cp": "running", "node1": "not_created"}


def test_ssh_config_parses_the_first_host_block():
    text = "Host cp\n  HostName 127.0.0.1\n  Port 2222\n\nHost other\n  Port 1\n"
    assert parse_ssh_config(text) == {"Host": "cp", "HostName": "127.0.0.1", "Port": "2222"}


def test_running_and_powered_off_vms_exist_and_not_created_ones_do_not(vagrant):
    c, _, _ = vagrant
    assert [c.instance_exists(node(n)) for n in ("cp", "node1", "node2", "node3", "node9")] == \
        [True, True, True, False, False]


def test_a_powered_off_vm_is_shut_down(vagrant):
    c, _, _ = vagrant
    assert c.instance_shutdown(node("node1")) is False
    assert c.instance_shutdown(node("node2")) is True
    with pytest.raises(cloud.InstanceNotFound):
        c.instance_shutdown(node("node3"))


def test_metadata_has_the_vagrantfile_address_the_ssh_host_and_a_zone(vagrant):
    c, _, calls = vagrant
    md = c.instance_metadata(node("node1"))
    assert md.provider_id == "kfs://vagrant/node1" and md.instance_type == "vagrant"
    assert md.node_addresses == [{"type": "InternalIP", "address": "192.168.56.11"},
                                 {"type": "Hostname", "address": "node1"}]
    assert (md.zone, md.region) == ("vagrant-a", "vagrant")
    assert c.get_zone_by_node_name("node2").failure_domain == "vagrant-b"
    assert calls() == ["status --machine-readable", "ssh-config node1"]


def test_a_vm_with_its_own_ssh_address_gets_it_as_external_ip(vagrant):
    c, set_vms, _ = vagrant
    set_vms(node1={"state": "running", "host": "192.168.121.7"})
    assert {"type": "ExternalIP", "address": "192.168.121.7"} in \
        c.instance_metadata(node("node1")).node_addresses


def test_halt_stops_the_vm(vagrant):
    c, _, _ = vagrant
    c.halt("node1")
    assert c.instance_shutdown(node("node1")) is True


def test_a_failing_vagrant_command_is_a_cloud_error_with_its_message(vagrant):
    c, _, _ = vagrant
    with pytest.raises(cloud.CloudError, match="was not found configured"):
        c.halt("node9")


def test_a_missing_vagrant_is_a_cloud_error_saying_to_install_it(tmp_path):
    c = VagrantCloud(directory=str(tmp_path), vagrant=str(tmp_path / "no-vagrant"))
    with pytest.raises(cloud.CloudError, match="install Vagrant"):
        c.instance_exists(node("cp"))
