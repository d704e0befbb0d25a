"""kfs scheduler: pods onto nodes (kube-scheduler).

- ``framework``: NodeInfo, Status, FitError and the filter -> score -> pick pipeline;
- ``plugins``: the filter and score functions, and loading an attendee's score plugin;
- ``cache``: nodes and the pods counted on them, assumed pods included;
- ``queue``: the scheduling queue (active, backoff, unschedulable);
- ``scheduler``: informers, ``schedule_one``, binding, failure handling;
- ``main``: the ``kfs scheduler`` command (``kfs.lab.stages.scheduler`` runs it on the lab's
  ``cp``).
"""
