"""Where each box of the topology picture goes (``kfs.viz.picture`` draws them).

``layout(g, sizes)`` takes the graph and each box's measured (width, height) in inches and
returns box centres: a root (the network) on top, with its unscheduled pods in a grid
beside it; under it a column per machine, the machine's pods in a grid under it that wraps
so that the picture stays within ``MAX_WIDTH`` (a notebook's width); the Services in rows
under everything, each near the middle of its endpoints.

What real tools do differently: graph drawing libraries (Graphviz's ``dot``, networkx's
``multipartite_layout``) place nodes by rank without knowing a box's size; this layout
knows the picture's one shape (network, machines, pods) and measures every box.
"""
import math

import networkx as nx

MAX_WIDTH = 9.6     # inches: 960 pixels at DPI, what a notebook's output area shows unscaled
GAP = 0.15          # inches between two pods' boxes
COLUMN_GAP = 0.25   # between two machines' columns
ROW_GAP = 0.45      # between the network and the machines, a machine and its pods
MARGIN = 0.12


def is_service(g, n):
    return g.nodes[n].get("kind") == "service"


def roots(g):
    return [n for n in g if g.in_degree(n) == 0 and not is_service(g, n)]


def columns(g, root):
    """[(column head, [items under it])]: one column per machine under `root`, its
    descendants as items; the root's own leaf children (unscheduled pods) in a last column
    whose head is None."""
    heads, loose = [], []
    for child in g.successors(root):
        if str(g.nodes[child].get("kind", "")).startswith("pod") and not g.out_degree(child):
            loose.append(child)
        else:
            heads.append((child, [d for d in nx.bfs_tree(g, child) if d != child]))
    return heads + ([(None, loose)] if loose else [])


def layout(g, sizes=None, max_width=MAX_WIDTH - 2 * MARGIN):
    """Box centres in inches, y upwards from the top (so negative). A root on top, with its
    unscheduled pods in a grid beside it; under it a column per machine, the machine's pods
    in a grid under it. Each grid starts with as many pods per row as fit under its machine,
    then the tallest grids widen while the whole stays within `max_width`. `sizes` maps a
    node to its box's (width, height)."""
    sizes = sizes or {}
    size = lambda n: sizes.get(n, (1.0, 0.5))  # noqa: E731
    pos, x = {}, 0.0
    for root in roots(g):
        found = columns(g, root)
        cols = [Column(head, items, size) for head, items in found if head]
        loose = Column(None, [i for head, items in found if not head for i in items], size)
        widen(cols, max_width)
        machines_w = sum(c.width for c in cols) + COLUMN_GAP * max(0, len(cols) - 1)
        root_w, root_h = size(root)
        room = max(max_width, machines_w) - root_w - COLUMN_GAP
        loose.per_row = max(1, min(len(loose.items), int((room + GAP) // (loose.cell_w + GAP))))
        top_w = root_w + (COLUMN_GAP + loose.width if loose.items else 0.0)
        span = max(machines_w, top_w)
        left = x + (span - top_w) / 2
        pos[root] = (left + root_w / 2, root_h / 2)
        loose.place(pos, left + root_w + COLUMN_GAP, 0.0)
        left = x + (span - machines_w) / 2
        for c in cols:
            c.place(pos, left, max(root_h, loose.height) + ROW_GAP)
            left += c.width + COLUMN_GAP
        x += span + COLUMN_GAP
    place_services(g, pos, size, max(max_width, x - COLUMN_GAP))
    return {n: (px, -py) for n, (px, py) in pos.items()}


def place_services(g, pos, size, width):
    """The Services in rows under everything else, each as near as the row allows to the
    middle of its endpoints (fewer crossing lines), wrapping at `width`."""
    services = [n for n in g if is_service(g, n)]
    if not services:
        return
    bottom = max((py + size(n)[1] / 2 for n, (_, py) in pos.items()), default=0.0)
    def middle(s):
        xs = [pos[t][0] for t in g.successors(s) if t in pos]
        return sum(xs) / len(xs) if xs else width
    x, y, row_h = 0.0, bottom + ROW_GAP, 0.0
    for s in sorted(services, key=middle):
        w, h = size(s)
        if x > 0 and x + w > width:
            x, y, row_h = 0.0, y + row_h + GAP, 0.0
        left = max(x, min(middle(s) - w / 2, width - w))   # under its endpoints if there is room
        pos[s] = (left + w / 2, y + h / 2)
        x, row_h = left + w + COLUMN_GAP, max(row_h, h)


class Column:
    """A machine's column: its head box, then its items in rows of `per_row`."""

    def __init__(self, head, items, size):
        self.head, self.items, self.size = head, items, size
        self.cell_w = max((size(i)[0] for i in items), default=0.0)
        self.cell_h = max((size(i)[1] for i in items), default=0.0)
        head_w = size(head)[0] if head else 0.0
        fits = int((head_w + GAP) // (self.cell_w + GAP)) if items else 1
        self.per_row = max(1, min(len(items), fits))

    @property
    def rows(self):
        return math.ceil(len(self.items) / self.per_row) if self.items else 0

    def grid_width(self):
        n = self.per_row
        return n * self.cell_w + (n - 1) * GAP if self.items else 0.0

    @property
    def head_height(self):
        return self.size(self.head)[1] + ROW_GAP / 2 if self.head else 0.0

    @property
    def width(self):
        return max(self.size(self.head)[0] if self.head else 0.0, self.grid_width())

    @property
    def height(self):
        grid = self.rows * (self.cell_h + GAP) - GAP if self.items else 0.0
        return self.head_height + grid

    def place(self, pos, left, top):
        """The head's top at `top`; the items start under it."""
        centre = left + self.width / 2
        if self.head:
            pos[self.head] = (centre, top + self.size(self.head)[1] / 2)
        y = top + self.head_height
        grid_left = centre - self.grid_width() / 2
        for k, item in enumerate(self.items):
            row, col = divmod(k, self.per_row)
            pos[item] = (grid_left + col * (self.cell_w + GAP) + self.cell_w / 2,
                         y + row * (self.cell_h + GAP) + self.cell_h / 2)


def widen(cols, max_width):
    """Give the column with the most rows one more item per row while the total fits."""
    total = lambda: sum(c.width for c in cols) + COLUMN_GAP * (len(cols) - 1)  # noqa: E731
    while True:
        tall = max((c for c in cols if c.rows > 1), key=lambda c: c.rows, default=None)
        if tall is None:
            return
        tall.per_row += 1
        if total() > max_width:
            tall.per_row -= 1
            return
