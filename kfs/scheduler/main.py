"""kube-scheduler: watch pending pods and nodes, bind each pod to the best node.

``kfs scheduler --kubeconfig FILE [--score-plugin FILE.py:FUNCTION[:WEIGHT]] ...`` runs the
scheduler as its own process, as ``kube-scheduler`` does (``cmd/kube-scheduler/app``,
``server.go``: flags, then ``Run``). The flag names are upstream's where upstream has
one; ``--score-plugin`` is kfs's way to add an attendee's score plugin to the process
(upstream compiles plugins in, or calls out to an extender webhook).

What real Kubernetes does differently: most settings live in a KubeSchedulerConfiguration
file (``--config``: profiles, plugin sets and weights, backoff, percentageOfNodesToScore);
the process also serves /healthz and /metrics on port 10259 and runs leader election.
"""
import re
import signal
import sys

from kfs.util import setup_logging

DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h)?$")


def duration(text):
    """"30s", "5m", "1.5" (seconds) -> seconds, as Go's time.ParseDuration (subset)."""
    m = DURATION.match(text.strip())
    if not m:
        raise ValueError(f"invalid duration {text!r} (examples: 500ms, 30s, 5m)")
    return float(m[1]) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m[2]]


def add_arguments(parser):
    import argparse
    parser.add_argument("--kubeconfig", help="kubeconfig with the API server's address and "
                        "the scheduler's credentials (default: $KUBECONFIG)")
    parser.add_argument("--scheduler-name", default="default-scheduler",
                        help="schedule only pods whose spec.schedulerName is this "
                        "(default: default-scheduler)")
    parser.add_argument("--score-plugin", action="append", default=[],
                        metavar="FILE.py:FUNCTION[:WEIGHT]",
                        help="add a score plugin from a Python file: a class with a name "
                        "and score(self, pod, node_info) -> 0..100, or just a function "
                        "(pod, node_info) -> 0..100; with a weight (default 1); repeatable")

    def _duration(text):
        try:
            return duration(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parser.add_argument("--pod-max-in-unschedulable-pods-duration", type=_duration,
                        default=300.0, metavar="DURATION",
                        help="retry a pod no node could take after this long even if "
                        "nothing changed (default: 5m)")
    parser.add_argument("--pod-initial-backoff-seconds", type=float, default=1.0,
                        help="backoff after a pod's first failed attempt (default: 1)")
    parser.add_argument("--pod-max-backoff-seconds", type=float, default=10.0,
                        help="the longest backoff (default: 10)")
    parser.add_argument("-v", "--v", type=int, default=2, dest="verbosity",
                        help="log verbosity: 0 warnings only, 2 every decision (default), "
                        "4 debug")


def build(args, client=None):
    """The Scheduler the command line describes (raises PluginError for a bad plugin)."""
    from kfs.scheduler import plugins
    from kfs.scheduler.framework import Framework
    from kfs.scheduler.queue import SchedulingQueue
    from kfs.scheduler.scheduler import Scheduler
    scores = plugins.default_scores() + [plugins.load_score_plugin(s) for s in args.score_plugin]
    if client is None:
        client = make_client(args.kubeconfig)
    framework = Framework(plugins.FILTERS, scores)
    queue = SchedulingQueue(initial_backoff=args.pod_initial_backoff_seconds,
                            max_backoff=args.pod_max_backoff_seconds,
                            max_in_unschedulable=args.pod_max_in_unschedulable_pods_duration,
                            queueing_hints=framework.queueing_hints())
    return Scheduler(client, args.scheduler_name, framework, queue)


def make_client(kubeconfig):
    from kfs.client import Client
    # informers' watches, workers and the event recorder share one connection pool
    return Client.for_component(kubeconfig, "kfs-scheduler", pool_maxsize=32,
                                hint="the lab's is `kfs lab up --stage apiserver`'s "
                                "kube-scheduler.kubeconfig")


def main(args):
    from kfs.scheduler.plugins import PluginError
    setup_logging(args.verbosity)
    try:
        scheduler = build(args)
    except (PluginError, FileNotFoundError, KeyError, ValueError) as e:
        print(f"kfs scheduler: {e}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: scheduler.stop())
    try:
        scheduler.run()
    except TimeoutError as e:  # the API server never answered the first list
        print(f"kfs scheduler: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        scheduler.stop()
    return 0
