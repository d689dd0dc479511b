"""Task groups folded in the graph and the grid: which group a call folds into, the links
that open and close groups, and the graph's folded nodes with their aggregate state."""

from __future__ import annotations

from pauta.store.reports import CallGroup
from pauta.ui.charts import graph_data
from pauta.ui.taskgroups import (
    MAX_OPEN,
    fold_point,
    group_links,
    group_states,
    parse_opened,
    toggled,
)


def _call(key: str, state: str, group: str | None, upstream: list[str] | None = None) -> CallGroup:
    return CallGroup(key, key.split("-")[0], False, {state: 1}, upstream or [], group=group)


CALLS = [
    _call("prepare-0", "SUCCEEDED", None),
    _call("train.fit-0", "SUCCEEDED", "train", ["prepare-0"]),
    _call("train.forest.fit-0", "FAILED", "train.forest", ["prepare-0"]),
    _call("train.forest.fit-1", "RUNNING", "train.forest", ["train.fit-0"]),
    _call("evaluate-0", "UPSTREAM_FAILED", None, ["train.fit-0", "train.forest.fit-0"]),
]


def test_a_call_folds_into_its_outermost_closed_group() -> None:
    assert fold_point(None, frozenset()) is None
    assert fold_point("train.forest", frozenset()) == "train"
    assert fold_point("train.forest", frozenset({"train"})) == "train.forest"
    assert fold_point("train.forest", frozenset({"train", "train.forest"})) is None
    # an inner group open inside a closed outer one still folds at the outer level
    assert fold_point("train.forest", frozenset({"train.forest"})) == "train"


def test_toggling_opens_the_path_and_closes_the_subgroups() -> None:
    assert toggled(frozenset(), "train.forest") == "train,train.forest"
    assert toggled(frozenset({"train", "train.forest", "other"}), "train") == "other"
    assert parse_opened(" train , ,train.forest") == {"train", "train.forest"}
    assert len(parse_opened(",".join(f"g{i}" for i in range(1000)))) == MAX_OPEN


def test_folded_graph_has_one_node_per_closed_group_with_the_worst_state() -> None:
    graph = graph_data(CALLS, opened=frozenset(), base="/runs/r1")
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert list(nodes) == ["prepare-0", "group:train", "evaluate-0"]
    train = nodes["group:train"]
    assert train["state"] == "FAILED"  # failed beats running beats succeeded
    assert train["label"].startswith("\u25b8 train (3 calls)")
    assert train["href"] == "/runs/r1?groups=train#graph"
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    # no edge inside the group, and one edge where several members led to the same call
    assert edges == {("prepare-0", "group:train"), ("group:train", "evaluate-0")}
    assert graph["total"] == 5


def test_opening_shows_members_and_nested_groups_fold_again() -> None:
    graph = graph_data(CALLS, opened=frozenset({"train"}), base="/runs/r1")
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert list(nodes) == ["prepare-0", "train.fit-0", "group:train.forest", "evaluate-0"]
    assert nodes["group:train.forest"]["state"] == "FAILED"
    edges = {(e["source"], e["target"]) for e in graph["edges"]}
    assert ("train.fit-0", "group:train.forest") in edges
    assert ("group:train.forest", "evaluate-0") in edges
    everything = graph_data(CALLS, opened=frozenset({"train", "train.forest"}))
    assert [n["id"] for n in everything["nodes"]] == [c.key for c in CALLS]
    # without ``opened`` (the compare page) nothing folds
    assert [n["id"] for n in graph_data(CALLS)["nodes"]] == [c.key for c in CALLS]


def test_group_links_list_visible_groups_with_their_state() -> None:
    states = group_states((c.group, c.states) for c in CALLS)
    assert states["train"] == {"SUCCEEDED": 1, "FAILED": 1, "RUNNING": 1}
    closed = group_links(states, frozenset(), "/flows/f")
    assert [(g.path, g.open, g.state, g.calls) for g in closed] == [("train", False, "FAILED", 3)]
    assert closed[0].href == "/flows/f?groups=train"
    opened = group_links(states, frozenset({"train"}), "/flows/f")
    assert [(g.path, g.depth, g.open) for g in opened] == [
        ("train", 0, True),
        ("train.forest", 1, False),
    ]
    assert opened[0].href == "/flows/f"  # collapse
    assert opened[1].href == "/flows/f?groups=train%2Ctrain.forest"
