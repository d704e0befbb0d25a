"""What changed since the last picture, and how a picture shows it.

``difference(before, after)`` compares two topology graphs (``kfs.viz.picture.graph``: the
machines, pods and Services each has; not the network), ``mark(g, before)`` records it in
`g`, and ``picture.draw`` shows it: what is new in a green box with a "new" tag
(``draw_new``), what is gone in a note under the picture ("gone since the last picture: pod
echo-abc (node1)", ``gone_note``); ``picture.describe`` adds the same in words
(``described``). A live view holds its marks for a while (``kfs.viz.live``), so a
Difference also says since when.

What real tools do differently: ``kubectl get -w`` prints each change as a line; dashboards
(Lens, k9s) highlight a row for a few seconds after it changed, as the live view does.
"""
import textwrap
from typing import NamedTuple

NEW_COLOUR = "#2e8b2e"   # the frame and tag of what is new since the last picture
GONE_COLOUR = "#9c3030"  # the note of what is gone since it


class Difference(NamedTuple):
    """What `after` has that `before` had not (its node names), and what `before` had that
    `after` has not (in words: ``pod echo-abc (node1)``), since when (in words)."""
    new: list
    gone: list
    since: str = "the last picture"

    def __bool__(self):
        return bool(self.new or self.gone)


def is_object(g, n):
    """A machine, a pod or a Service: what a picture can gain or lose (not the network)."""
    kind = str(g.nodes[n].get("kind", ""))
    return kind.startswith(("machine", "pod")) or kind == "service"


def what(g, n):
    """A machine, pod or Service in words: ``pod echo-abc (node1)``, ``svc default/echo``."""
    kind = str(g.nodes[n].get("kind", ""))
    if kind.startswith("pod"):
        on = [p for p in g.predecessors(n) if str(g.nodes[p].get("kind")).startswith("machine")]
        return f"pod {n.rsplit('/', 1)[1]} ({on[0] if on else 'not scheduled'})"
    if kind == "service":
        return f"svc {n.partition('/')[2]}"
    return f"machine {n}"


def difference(before, after):
    """What changed from the picture `before` to the picture `after` (graphs); nothing when
    there is no picture before."""
    if before is None:
        return Difference([], [])
    return Difference([n for n in after if is_object(after, n) and n not in before],
                      [what(before, n) for n in before if is_object(before, n) and n not in after])


def mark(g, before):
    """Mark in `g` what changed since the picture `before` (None: nothing); `draw` and
    `describe` show the marks. Returns the Difference."""
    g.graph["marks"] = difference(before, g)
    return g.graph["marks"]


def described(g):
    """The marks of `g` in words: a line of what is new and one of what is gone (or none)."""
    d = g.graph.get("marks")
    lines = []
    if d and d.new:
        lines.append(f"new since {d.since}: " + ", ".join(what(g, n) for n in d.new))
    if d and d.gone:
        lines.append(f"gone since {d.since}: " + ", ".join(d.gone))
    return lines


def line_height(font):
    return 1.25 * font["fontsize"] / 72  # inches per line of text


def gone_note(g, width, font):
    """"gone since the last picture: ...", wrapped to `width` inches; "" if nothing is gone."""
    d = g.graph.get("marks")
    if not d or not d.gone:
        return ""
    chars = max(30, int(width * 72 / (0.6 * font["fontsize"])))
    return "\n".join(textwrap.wrap(f"gone since {d.since}: " + ", ".join(d.gone), chars,
                                    break_on_hyphens=False))


def draw_new(g, ax, texts, sizes):
    """What is new since the last picture: its box framed in green, a "new" tag on the frame's
    top right corner (a figure text: ``ax.texts`` holds one box per graph node)."""
    d = g.graph.get("marks")
    for n in (d.new if d else []):
        texts[n].get_bbox_patch().set(edgecolor=NEW_COLOUR, linewidth=2)
        (x, y), (w, h) = texts[n].get_position(), sizes[n]
        ax.figure.text(x + w / 2 - 0.05, y + h / 2, "new", transform=ax.transData, ha="right",
                       va="center", color="white", zorder=4, fontsize=6, fontweight="bold",
                       bbox=dict(boxstyle="round,pad=0.15", fc=NEW_COLOUR, ec="none"))
