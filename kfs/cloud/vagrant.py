"""The Vagrant lab as a cloud: its VMs are the instances, ``vagrant`` is the IaaS's API.

Mirrors a cloud provider's ``instances.go`` (the shape of ``cloud-provider-aws``'s
``InstancesV2``), with ``vagrant``'s own commands as the cloud's API:

- ``vagrant status --machine-readable``: every VM and its state (``running``, ``poweroff``,
  ``saved``, ``aborted``, ``not_created``...); a VM that is ``not_created`` does not exist,
  one that exists but is not ``running`` is shut down;
- ``vagrant ssh-config NAME``: how to reach the VM (``Host``, ``HostName``, ``Port``,
  ``User``); a HostName other than loopback (a libvirt VM's own address) is an ExternalIP;
- ``vagrant halt NAME``: stop a VM (the IaaS stopping an instance).

The VMs' InternalIPs are the host-only network's, laid out as ``labs/Vagrantfile`` does (cp
.10, node1 .11, ...), since ``vagrant`` does not report a private network's address.

What real Kubernetes does differently: a cloud's API answers over HTTPS with the instance's
addresses, type and zone; here a command is run (a few hundred ms each, so calls are made
only when a controller asks). ``vagrant`` runs on the host, not in the VMs: the Vagrant
lab's own stage ``cloud`` runs its cloud-controller-manager on ``cp`` with the lab's
inventory (``kfs.cloud.netns``, whose load balancer is then cp itself); this provider is for
a cloud-controller-manager run on the host, next to the Vagrantfile.
"""
import ipaddress
import json
import logging
import os
import re
import shutil
import subprocess

from kfs.cloud import cloud

log = logging.getLogger("kfs.cloud.vagrant")

NOT_CREATED = "not_created"
NODE_NAME = re.compile(r"^node(\d+)$")


def parse_status(text):
    """``vagrant status --machine-readable`` -> {machine: state}.

    Lines are ``timestamp,target,type,data...``; commas inside data are written
    ``%!(VAGRANT_COMMA)``; the ``state`` line of each target is its state."""
    states = {}
    for line in text.splitlines():
        parts = line.split(",", 3)
        if len(parts) >= 4 and parts[1] and parts[2] == "state":
            states[parts[1]] = parts[3].replace("%!(VAGRANT_COMMA)", ",").strip()
    return states


def parse_ssh_config(text):
    """``vagrant ssh-config NAME`` -> {"Host": ..., "HostName": ..., "Port": ...} (the first
    Host block; keys as ssh_config spells them)."""
    found = {}
    for line in text.splitlines():
        key, _, value = line.strip().partition(" ")
        if not key or key.startswith("#"):
            continue
        if key == "Host" and "Host" in found:
            break
        found.setdefault(key, value.strip())
    return found


def vagrantfile_address(name, subnet):
    """The host-only address labs/Vagrantfile gives a VM: cp .10, nodeN .10+N."""
    net = ipaddress.ip_network(subnet)
    if name == "cp":
        return str(net.network_address + 10)
    m = NODE_NAME.match(name)
    return str(net.network_address + 10 + int(m[1])) if m else None


def default_zone(name, region):
    """Zones the lab gives machines: cp and odd nodes in <region>-a, even nodes in -b."""
    m = NODE_NAME.match(name)
    return f"{region}-{'b' if m and int(m[1]) % 2 == 0 else 'a'}"


class VagrantCloud(cloud.Interface, cloud.InstancesV2, cloud.Zones):
    def __init__(self, lab="vagrant", directory=".", vagrant="vagrant",
                 subnet="192.168.56.0/24", region="vagrant", zones=None, timeout=120.0):
        self.lab, self.directory, self.vagrant = lab, directory, vagrant
        self.subnet, self.region, self.zone_of = subnet, region, dict(zones or {})
        self.timeout = timeout

    def provider_name(self):
        return "vagrant"

    def instances_v2(self):
        return self

    def zones(self):
        return self

    # -- running vagrant ------------------------------------------------------------------------

    def run(self, *args):
        exe = shutil.which(self.vagrant) or self.vagrant
        argv = [exe, *args]
        try:
            done = subprocess.run(argv, cwd=self.directory, capture_output=True, text=True,
                                  timeout=self.timeout, env={**os.environ, "VAGRANT_NO_COLOR": "1"})
        except FileNotFoundError:
            raise cloud.CloudError(f"`{self.vagrant}` not found: install Vagrant, or pass the "
                                   "path of the vagrant executable") from None
        except subprocess.TimeoutExpired:
            raise cloud.CloudError(f"`vagrant {' '.join(args)}` took over {self.timeout:g} s") \
                from None
        if done.returncode != 0:
            raise cloud.CloudError(f"`vagrant {' '.join(args)}` failed ({done.returncode}): "
                                   f"{(done.stderr or done.stdout).strip()}")
        return done.stdout

    def states(self):
        return parse_status(self.run("status", "--machine-readable"))

    def ssh_config(self, name):
        return parse_ssh_config(self.run("ssh-config", name))

    def halt(self, name):
        """Stop the VM (``vagrant halt NAME``)."""
        log.info("halting VM %s", name)
        self.run("halt", name)

    # -- InstancesV2 ----------------------------------------------------------------------------

    def state(self, node):
        return self.states().get(cloud.instance_name(node, self.lab), NOT_CREATED)

    def instance_exists(self, node):
        try:
            return self.state(node) != NOT_CREATED
        except cloud.InstanceNotFound:
            return False

    def instance_shutdown(self, node):
        state = self.state(node)
        if state == NOT_CREATED:
            raise cloud.InstanceNotFound(node["metadata"]["name"])
        return state != "running"

    def instance_metadata(self, node):
        name = cloud.instance_name(node, self.lab)
        if self.states().get(name, NOT_CREATED) == NOT_CREATED:
            raise cloud.InstanceNotFound(f"no VM {name!r} in {self.directory}")
        addresses = []
        internal = vagrantfile_address(name, self.subnet)
        if internal:
            addresses.append({"type": "InternalIP", "address": internal})
        ssh = self.ssh_config(name)
        host = ssh.get("HostName")
        if host and not _loopback(host) and host != internal:
            addresses.append({"type": "ExternalIP", "address": host})
        addresses.append({"type": "Hostname", "address": ssh.get("Host", name)})
        zone = self.get_zone_by_node_name(name)
        return cloud.InstanceMetadata(provider_id=cloud.provider_id(self.lab, name),
                                      instance_type="vagrant", node_addresses=addresses,
                                      zone=zone.failure_domain, region=zone.region)

    # -- Zones ------------------------------------------------------------------------------------

    def get_zone_by_node_name(self, node_name):
        return cloud.Zone(self.zone_of.get(node_name) or default_zone(node_name, self.region),
                          self.region)

    def get_zone_by_provider_id(self, provider_id):
        return self.get_zone_by_node_name(cloud.parse_provider_id(provider_id)[1])


def _loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def new_cloud(cloud_config=None, **kwargs):
    """The provider from ``--cloud-config FILE`` (JSON with VagrantCloud's arguments:
    ``lab``, ``directory`` (where the Vagrantfile is), ``vagrant``, ``subnet``, ``region``,
    ``zones``), or from keyword arguments."""
    config = {}
    if cloud_config is not None:
        try:
            with open(cloud_config) as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"--cloud-config {cloud_config}: {e}") from None
    try:
        return VagrantCloud(**{**config, **kwargs})
    except TypeError as e:
        raise ValueError(f"--cloud-config {cloud_config}: {e}") from None


cloud.register_cloud_provider("vagrant", new_cloud)
