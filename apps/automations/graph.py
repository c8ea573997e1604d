"""An automation's steps as a graph: lanes, what comes next, and what lies ahead.

Lanes: the main lane (no parent) and each condition's Yes and No lanes. After the last step
of a lane, a run carries on after the condition that opened the lane (the branches join again,
like an if / else); an End or Exit step inside a branch stops it there instead.
"""

from collections import defaultdict
from dataclasses import dataclass, field

from .models import Node

LaneKey = tuple[int | None, str]
# A branching step's lanes, in reading order.
BRANCHES = ("yes", "no")


def _kind(node):
    from .kinds import kind_get

    return kind_get(node.kind)


@dataclass
class Graph:
    nodes: dict[int, Node]
    lanes: dict[LaneKey, list[int]] = field(default_factory=dict)
    _lane_of: dict[int, LaneKey] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes) -> "Graph":
        nodes = list(nodes)
        lanes: dict[LaneKey, list[Node]] = defaultdict(list)
        for node in nodes:
            lanes[(node.parent_id, node.branch or "")].append(node)
        graph = cls(nodes={n.pk: n for n in nodes})
        for key, members in lanes.items():
            members.sort(key=lambda n: (n.position, n.pk))
            graph.lanes[key] = [n.pk for n in members]
            for n in members:
                graph._lane_of[n.pk] = key
        return graph

    def first(self, parent_id: int | None = None, branch: str = "") -> int | None:
        """The first step of a lane; for an empty branch, whatever follows its condition."""
        lane = self.lanes.get((parent_id, branch))
        if lane:
            return lane[0]
        return None if parent_id is None else self.after(parent_id)

    def after(self, node_id: int) -> int | None:
        """The step a run reaches after ``node_id`` when it does not branch."""
        seen = set()
        current = node_id
        while current is not None and current not in seen:
            seen.add(current)
            parent_id, branch = self._lane_of[current]
            lane = self.lanes[(parent_id, branch)]
            index = lane.index(current)
            if index + 1 < len(lane):
                return lane[index + 1]
            current = parent_id
        return None

    def next(self, node_id: int, branch: str = "") -> int | None:
        if branch:
            return self.first(node_id, branch)
        return self.after(node_id)

    def successors(self, node_id: int) -> list[int]:
        kind = _kind(self.nodes[node_id])
        if kind.has_branches:
            options = [self.first(node_id, branch) for branch in BRANCHES]
        elif kind.final:
            options = []
        else:
            options = [self.after(node_id)]
        return [n for n in options if n is not None]

    def below(self, node_id: int) -> list[int]:
        """The step and, for a branching step, every step in its branches."""
        ids = [node_id]
        if _kind(self.nodes[node_id]).has_branches:
            for arm in BRANCHES:
                ids += [n.pk for n in self.walk(node_id, arm)]
        return ids

    def ahead(self, node_id: int | None) -> list[int]:
        """Every step reachable from ``node_id`` (itself included), nearest first."""
        if node_id is None or node_id not in self.nodes:
            return []
        order, seen, frontier = [], {node_id}, [node_id]
        while frontier:
            current = frontier.pop(0)
            order.append(current)
            for nxt in self.successors(current):
                if nxt not in seen:
                    seen.add(nxt)
                    frontier.append(nxt)
        return order

    def walk(self, parent_id: int | None = None, branch: str = ""):
        """Yield steps in reading order: each condition followed by its Yes, then No lane."""
        for node_id in self.lanes.get((parent_id, branch), []):
            yield self.nodes[node_id]
            if _kind(self.nodes[node_id]).has_branches:
                for arm in BRANCHES:
                    yield from self.walk(node_id, arm)


def graph_load(automation_id: int) -> Graph:
    return Graph.build(Node.objects.filter(automation_id=automation_id))


def graph_first_step(automation_id: int) -> int | None:
    """Where a run enters: ``graph_load(...).first()`` in one indexed row, not the graph
    (starting runs is on every dispatch batch's path)."""
    return (
        Node.objects.filter(automation_id=automation_id, parent__isnull=True, branch="")
        .order_by("position", "pk")
        .values_list("pk", flat=True)
        .first()
    )
