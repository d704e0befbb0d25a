"""Notebook 00's answers."""
import ipaddress


def machine_address(subnet, name):
    index = 0 if name == "cp" else int(name.removeprefix("node"))
    return str(ipaddress.ip_network(subnet).network_address + 10 + index)
