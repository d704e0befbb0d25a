"""Pictures of the lab: machines, the lab network, addresses, components, pods and Services.

``kfs.viz.topology(lab)`` draws the cluster as it is now (a matplotlib Figure, which a
notebook shows); ``kfs.viz.LiveView(lab).show()`` keeps such a picture current in a notebook
as the cluster changes. ``picture`` builds and draws the graph, ``live`` keeps pictures
current (``LiveImage``/``LiveHTML``: the mechanism), and ``dashboard`` puts the topology,
the events and each machine's containers side by side (``kfs.viz.Dashboard(lab).show()``).
"""
from kfs.viz.picture import (STYLES, components, describe, docker_bridge, draw,  # noqa: F401
                             graph, layout, machine_facts, node_ready, png, pod_kind,
                             pod_phase, pods_from_api, pods_from_docker, services_from_api,
                             topology)
from kfs.viz.live import LiveHTML, LiveImage, LiveView, stop_all  # noqa: F401,E402
from kfs.viz.dashboard import Dashboard  # noqa: F401,E402
