"""An attendee's score plugin: ``kfs scheduler --score-plugin FILE.py:NAME[:WEIGHT]``.

kfs's own way to add a plugin to the scheduler process. NAME in the file is either a
plugin in the shape of kfs's own -- a class with a ``name`` and a ``score(self, pod,
node_info)`` method, and optionally ``normalize(self, scores)`` -- or just the function
``score(pod, node_info)``, named after itself. The loader wraps either into the same
``ScorePlugin`` the framework runs: the score is 0..100 for each node that passed the
filters (higher is better), and the weight (default 1, at most 100) multiplies it before
it is added to the built-in scores. A score never rejects a pod, so it registers no
cluster events.

What real Kubernetes does differently: nothing is loaded at run time. An out-of-tree
plugin is Go code compiled into a scheduler binary of one's own
(``app.NewSchedulerCommand(app.WithPlugin(name, New))``) and enabled, with its weight, in
a KubeSchedulerConfiguration profile; or the logic sits behind an extender webhook.
"""
import importlib.util
import os

from kfs.scheduler.framework import ScorePlugin


class PluginError(ValueError):
    """A --score-plugin that cannot be used; the message says what to fix."""


def split_spec(spec):
    """``FILE.py:FUNCTION[:WEIGHT]`` -> (file, function, weight)."""
    parts = spec.rsplit(":", 2)
    if len(parts) == 3 and not parts[2].strip().isdigit():
        parts = [f"{parts[0]}:{parts[1]}", parts[2]]  # a ":" in the path, and no weight
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise PluginError(f"--score-plugin {spec!r}: expected FILE.py:FUNCTION[:WEIGHT]")
    return parts[0], parts[1], int(parts[2]) if len(parts) == 3 else 1


def load_score_plugin(spec):
    """``path/to/file.py:name[:weight]`` -> a ScorePlugin (see the module docstring)."""
    path, name, weight = split_spec(spec)
    if not 1 <= weight <= 100:
        raise PluginError(f"--score-plugin {spec!r}: the weight must be 1..100")
    found = getattr(_load_module(spec, path), name, None)
    if not callable(found):
        raise PluginError(f"--score-plugin {spec!r}: {path} defines no function {name!r}")
    if not isinstance(found, type):  # a bare score function
        return ScorePlugin(name, found, weight=weight)
    try:
        plugin = found()
    except Exception as e:
        raise PluginError(f"--score-plugin {spec!r}: {name}() fails: "
                          f"{type(e).__name__}: {e}") from None
    if not callable(getattr(plugin, "score", None)):
        raise PluginError(f"--score-plugin {spec!r}: {name} has no method "
                          "score(self, pod, node_info)")
    return ScorePlugin(getattr(plugin, "name", "") or name, plugin.score, weight=weight,
                       normalize=getattr(plugin, "normalize", None))


def _load_module(spec, path):
    if not os.path.isfile(path):
        raise PluginError(f"--score-plugin {spec!r}: no file {path!r}")
    module_name = f"kfs_score_plugin_{os.path.splitext(os.path.basename(path))[0]}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as e:
        raise PluginError(f"--score-plugin {spec!r}: {path} does not load: "
                          f"{type(e).__name__}: {e}") from None
    return module
