"""kfs scheduler: pods onto nodes (kube-scheduler).

- ``framework``: NodeInfo, Status, FitError, Plugin and the filter -> score -> pick pipeline;
- ``plugins``: one file per plugin (filters, scores, the events each registers), and
  ``plugins.loader`` for an attendee's score plugin;
- ``events``: cluster events and queueing hints (what may make a rejected pod fit);
- ``cache``: nodes and the pods counted on them, assumed pods included;
- ``queue``: the scheduling queue (active, backoff, unschedulable, woken by hints);
- ``scheduler``: informers, ``schedule_one``, binding, failure handling;
- ``main``: the ``kfs scheduler`` command (``kfs.lab.stages.scheduler`` runs it on the lab's
  ``cp``).
"""
