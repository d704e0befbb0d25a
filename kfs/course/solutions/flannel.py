"""Notebook 06's answers."""
import ipaddress


def first_free_subnet(network, taken):
    taken = [ipaddress.ip_network(t) for t in taken]
    for subnet in list(ipaddress.ip_network(network).subnets(new_prefix=24))[1:]:
        if not any(subnet.overlaps(t) for t in taken):
            return str(subnet)
    return None
