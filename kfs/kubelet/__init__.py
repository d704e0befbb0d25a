"""The kubelet: the worker that turns pod specifications into running Docker containers.

It learns which pods to run from its sources (a manifest directory, a manifest URL, the API
server), merges them into one desired set, and for each pod makes Docker match it: a pause
container owning the pod's network namespace, the app containers joined to it, restarts
with back-off, probes, status. It keeps no state of its own: everything it needs after a
restart is in Docker's container labels.

Read it in this order:

- ``main.py``       the command line (``kfs kubelet --help``) and how the parts are wired
- ``sources.py``    pod sources and their merge (``manifest.py``: decoding, static pods)
- ``kubelet.py``    the sync loop, one worker per pod, housekeeping of orphans
- ``sync.py``       ``sync_pod``: sandbox, containers, restarts, back-off, images, killing
  (``backoff.py`` the back-offs, ``reasons.py`` why each container waits)
- ``podspec.py``    a pod's spec turned into sandbox and container configs (env, volumes ...)
- ``runtime.py``    the Docker adapter (what dockershim did), ``fake_runtime.py`` its twin
- ``status.py``     pod phase, conditions and container states; with an API server, the
  status writes and the final delete
- ``probes.py``     liveness, readiness and startup probes
- ``events.py``     the pod's story as Events (``kubectl describe pod``)
- ``server.py``     the HTTPS API on :10250: /healthz, /pods, /containerLogs, /exec,
  /attach, /portForward (``streaming.py``: exec and attach over WebSockets;
  ``portforward.py``: port-forward, with ``spdy.py`` for kubectl's SPDY-in-WebSocket)
- ``node.py``       with an API server: Node registration, node status, Lease heartbeat
- ``mirror.py``     with an API server: mirror pods of the static pods

The lab runs ``kfs kubelet`` on every node machine from ``kfs/lab/stages/kubelet.py``.

Mirrors ``pkg/kubelet`` of Kubernetes; each module names the upstream files it shrinks.
"""
