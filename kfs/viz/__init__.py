"""Pictures of the lab: machines, the lab network, addresses, components, pods and Services.

``kfs.viz.topology(lab)`` draws the cluster as it is now (a matplotlib Figure, which a
notebook shows); ``kfs.viz.LiveView(lab).show()`` keeps such a picture current in a notebook
as the cluster changes. Each marks what changed since the picture before it
(``difference``, ``mark``): new objects in green with a "new" tag, a note of what is gone.
``picture`` builds and draws the graph, ``live`` keeps pictures current
(``LiveImage``/``LiveHTML``: the mechanism), and ``dashboard`` puts the topology, the
events and each machine's containers side by side (``kfs.viz.Dashboard(lab).show()``).
"""
from kfs.viz.picture import (STYLES, components, describe, difference,  # noqa: F401
                             docker_bridge, draw, graph, layout, machine_facts, mark,
                             node_ready, png, pod_kind, pod_phase, pods_from_api,
                             pods_from_docker, services_from_api, topology)
from kfs.viz.live import LiveHTML, LiveImage, LiveView, stop_all  # noqa: F401,E402
from kfs.viz.dashboard import Dashboard  # noqa: F401,E402
