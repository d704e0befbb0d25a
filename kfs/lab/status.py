"""``kfs lab status``: the lab's machines, addresses, namespaces and daemons with PIDs.

Printed by ``kfs lab up`` and ``kfs lab status``, and by the main job (``kfs demo``)
before it starts. A daemon whose process is gone shows ``DEAD``; a machine whose network
namespace is gone shows ``MISSING`` (``kfs lab up`` repairs both); a node ``kfs lab
stop-node`` stopped shows ``stopped`` instead of its daemons (``kfs lab up`` leaves it so).
"""
from kfs.lab.lab import Lab


def print_status(lab=None):
    lab = lab or Lab()
    if not lab.exists:
        print(f"lab {lab.name!r} is down (kfs lab up brings it up)")
        return
    network = (f"VirtualBox host-only {lab.subnet}" if lab.kind == "vagrant" else
               f"{lab.bridge} {lab.host_ip}/{lab.subnet.prefixlen}")
    print(f"lab {lab.name!r}  stage {lab.stage or '-'}  network {network}  state {lab.dir}")
    rows = lab.status()
    subnets = any(row["subnet"] for row in rows)  # the pod subnet column, from stage flannel
    print(f"{'MACHINE':8} {'ADDRESS':15} {'NETNS':12} " + (f"{'POD SUBNET':15} " if subnets else "")
          + "DAEMONS (PID)")
    for row in rows:
        daemons = "  ".join(f"{n} {p or 'DEAD'}" for n, p in row["daemons"].items())
        if row.get("stopped"):
            daemons = f"stopped (kfs lab start-node {row['machine']} starts it)"
        subnet = f"{row['subnet'] or '-':15} " if subnets else ""
        print(f"{row['machine']:8} {row['address']:15} {row['netns'] or 'MISSING':12} {subnet}"
              f"{daemons}")
    if lab.joined:
        print(f"added by kfs lab add-node (joined with a bootstrap token): "
              f"{', '.join(lab.joined)}")
