"""What the course adds around the components: for now, the instructor's dashboard.

``kfs.course.dashboard()`` shows the lab's topology, its events as they come and each
machine's containers side by side, kept current while other cells change the cluster
(``kfs.viz.dashboard``); ``board.stop()`` ends it.
"""


def dashboard(lab=None, interval=5.0):
    """Show the instructor's dashboard for `lab` (default: the lab ``KFS_LAB`` names)."""
    from kfs.viz.dashboard import Dashboard
    return Dashboard(lab, interval=interval).show()
