"""Reads of a run's task calls for pages that must stay small with thousands of calls: the
calls of each ``.map`` folded into one group, and one page of calls at a time.

A mapped call's key is its map's stem and its index (``process-0[12]``); the stem is computed
in SQL from the key and ``map_index``, so a run of 10,000 mapped calls is folded by the
database and a page reads a few rows per map instead of one per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from pauta.core.states import State
from pauta.store.base import StoreBase
from pauta.store.recordrows import task_run_record
from pauta.store.records import AttemptRecord, TaskRunRecord
from pauta.store.reports import CallGroup
from pauta.store.rows import TASK_COLUMNS
from pauta.store.tables import task_attempts, task_runs

_LAST = datetime.max.replace(tzinfo=UTC)


def map_stem() -> sa.ColumnElement[Any]:
    """``process-0`` for the mapped call ``process-0[12]``: its key less ``[``, the index and
    ``]`` (meaningful only where ``map_index`` is set)."""
    t = task_runs.c
    digits = sa.func.length(sa.cast(t.map_index, sa.String))
    return sa.func.substr(t.key, 1, sa.func.length(t.key) - digits - 2)


def _of_map(stem: str | None) -> list[sa.ColumnElement[bool]]:
    t = task_runs.c
    if stem is None:
        return []
    return [t.map_index.isnot(None), map_stem() == stem]


class FoldedCallsStore(StoreBase):
    """A run's calls folded by map, their spans, and pages of them."""

    def call_groups(self, run_id: str) -> list[CallGroup]:
        """The run's calls, each ``.map`` folded into one group, in creation order."""
        t = task_runs.c
        stem = map_stem().label("stem")
        single = (
            sa.select(
                t.key, t.name, t.label, t.state, t.upstream, t.kind, t.child_run_id,
                t.created_at, t.started_at, t.ended_at, t.attempts, t.task_group,
            )
            .where(t.flow_run_id == run_id, t.map_index.is_(None))
        )  # fmt: skip
        # one pass over a map's calls: the items of a map mostly wait on the same calls, so
        # there are about as many rows as states
        counted = (
            sa.select(
                stem, t.name, t.state, t.upstream, sa.func.count(), sa.func.min(t.created_at),
                sa.func.min(t.started_at), sa.func.max(t.ended_at), sa.func.count(t.ended_at),
                sa.func.sum(t.attempts), t.task_group,
            )
            .where(t.flow_run_id == run_id, t.map_index.isnot(None))
            .group_by(stem, t.name, t.state, t.upstream, t.task_group)
        )  # fmt: skip
        with self.engine.connect() as conn:
            singles = conn.execute(single).all()
            counts = conn.execute(counted).all()
        maps: dict[str, dict[str, Any]] = {}
        for (key, name, state, upstream, count, created, started, ended, n_ended, tries,
             group) in counts:  # fmt: skip
            entry = maps.setdefault(
                key,
                {"name": name, "states": {}, "upstream": [], "created": [], "started": [],
                 "ended": [], "open": 0, "attempts": 0, "group": group},
            )  # fmt: skip
            entry["states"][state] = entry["states"].get(state, 0) + count
            entry["upstream"].extend(upstream or [])
            entry["created"].append(created)
            if started is not None:
                entry["started"].append(started)
            if ended is not None:
                entry["ended"].append(ended)
            entry["open"] += count - n_ended
            entry["attempts"] += tries or 0

        def fold(keys: Sequence[str]) -> list[str]:
            # a call waiting on a whole map lists its 10,000 keys: no regular expression each
            folded: dict[str, None] = {}
            for key in keys:
                if key.endswith("]"):
                    stem, _, index = key[:-1].rpartition("[")
                    if index.isdigit() and stem in maps:
                        key = stem
                folded[key] = None
            return list(folded)

        groups = [
            CallGroup(
                key=key, name=name, mapped=False, states={state: 1}, upstream=fold(upstream or []),
                label=label, kind=kind, child_run_id=child, created_at=created,
                started_at=started, ended_at=ended, attempts=attempts, group=group,
            )
            for (key, name, label, state, upstream, kind, child, created, started, ended, attempts,
                 group) in singles
        ]  # fmt: skip
        for key, entry in maps.items():
            groups.append(
                CallGroup(
                    key=key,
                    name=entry["name"],
                    mapped=True,
                    states=entry["states"],
                    upstream=fold(entry["upstream"]),
                    created_at=min(entry["created"]),
                    started_at=min(entry["started"], default=None),
                    ended_at=None if entry["open"] else max(entry["ended"], default=None),
                    attempts=entry["attempts"],
                    group=entry["group"],
                )
            )
        groups.sort(key=lambda g: (g.created_at or _LAST, g.key))
        return groups

    def unmapped_attempts(self, run_id: str) -> list[AttemptRecord]:
        """The attempts of the run's calls that are not part of a map."""
        t, a = task_runs.c, task_attempts.c
        unmapped = sa.select(t.key).where(t.flow_run_id == run_id, t.map_index.is_(None))
        query = (
            sa.select(task_attempts)
            .where(a.flow_run_id == run_id, a.key.in_(unmapped))
            .order_by(a.key, a.attempt)
        )
        with self.engine.connect() as conn:
            return [
                AttemptRecord(**{**row._mapping, "state": State(row.state)})
                for row in conn.execute(query)
            ]

    def task_page(
        self,
        run_id: str,
        *,
        state: str | None = None,
        stem: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[TaskRunRecord]:
        """One page of the run's calls in creation order, optionally only those in ``state``
        or of the map ``stem``."""
        t = task_runs.c
        query = (
            sa.select(*TASK_COLUMNS)
            .where(t.flow_run_id == run_id, *_of_map(stem))
            .order_by(t.created_at, t.key)
            .limit(limit)
            .offset(offset)
        )
        if state is not None:
            query = query.where(t.state == state)
        with self.engine.connect() as conn:
            return [task_run_record(row) for row in conn.execute(query)]

    def count_task_states(self, run_id: str, *, stem: str | None = None) -> dict[str, int]:
        """How many of the run's calls (or of the map ``stem``'s) are in each state."""
        t = task_runs.c
        query = (
            sa.select(t.state, sa.func.count())
            .where(t.flow_run_id == run_id, *_of_map(stem))
            .group_by(t.state)
        )
        with self.engine.connect() as conn:
            return {state: count for state, count in conn.execute(query)}

    def attempts_of(self, run_id: str, keys: Sequence[str]) -> list[AttemptRecord]:
        """The attempts of some of the run's calls, by key and attempt number."""
        if not keys:
            return []
        a = task_attempts.c
        query = (
            sa.select(task_attempts)
            .where(a.flow_run_id == run_id, a.key.in_(list(keys)))
            .order_by(a.key, a.attempt)
        )
        with self.engine.connect() as conn:
            return [
                AttemptRecord(**{**row._mapping, "state": State(row.state)})
                for row in conn.execute(query)
            ]

    def labels_of(self, run_id: str, keys: Sequence[str]) -> dict[str, str]:
        """The labels of some of the run's calls, by key (calls without one are left out)."""
        if not keys:
            return {}
        t = task_runs.c
        query = sa.select(t.key, t.label).where(
            t.flow_run_id == run_id, t.key.in_(sorted(set(keys))), t.label.isnot(None)
        )
        with self.engine.connect() as conn:
            return {key: label for key, label in conn.execute(query)}
