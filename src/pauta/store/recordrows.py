"""Rows into records: how the columns of ``flow_runs`` and ``task_runs`` become ``records``.

Plain Python over values already converted to their Python types (aware datetimes, decoded
JSON), so that the SQLAlchemy store and the light store of ``pauta run`` read rows alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pauta.core.states import FlowRunState, State
from pauta.store.records import FlowRunRecord, TaskRunRecord
from pauta.store.results import StoredResult
from pauta.store.writes import RESULT_COLUMNS


def stored_result(
    uri: str | None, inline: bytes | None, size: int | None, serializer: str, preview: str
) -> StoredResult | None:
    """The result a row's result columns describe; None without one."""
    if size is None:
        return None
    return StoredResult(
        uri=uri,
        inline=bytes(inline) if inline is not None else None,  # psycopg gives memoryview
        size=size,
        serializer=serializer or "",
        preview=preview or "",
    )


class FlowRunReader:
    """Reads rows of every column of ``flow_runs``, in the order of ``columns``, by position:
    listing a page of runs spent most of its time looking columns up by name."""

    def __init__(self, columns: Sequence[str]) -> None:
        columns = list(columns)
        self._fields = tuple(
            (name, columns.index(name))
            for name in FlowRunRecord.__slots__  # type: ignore[attr-defined]
            if name in columns and name != "state"
        )
        self._state = columns.index("state")
        self._result = tuple(columns.index(c) for c in RESULT_COLUMNS)

    def __call__(self, values: Sequence[Any]) -> FlowRunRecord:
        fields = {name: values[i] for name, i in self._fields}
        result = stored_result(*(values[i] for i in self._result))
        return FlowRunRecord(**fields, state=FlowRunState(values[self._state]), result=result)


# Selected in this order and unpacked by position: a run can have thousands of task rows, and
# reading a Row by attribute name costs more than everything else.
TASK_COLUMN_NAMES = (
        "flow_run_id", "key", "name", "state", "attempts", "map_index", "fingerprint", "upstream",
        "priority", "resources", "kind", "child_run_id", "created_at", "started_at", "ended_at",
        *RESULT_COLUMNS, "error", "cache_key", "cached_from", "label", "task_group",
        "teardown", "marked_by", "marked_at",
)  # fmt: skip


def task_run_record(row: Any) -> TaskRunRecord:
    (run, key, name, state, attempts, map_index, fingerprint, upstream, priority, resources, kind,
     child_run_id, created_at, started_at, ended_at, uri, inline, size, serializer, preview,
     error, cache_key, cached_from, label, group, teardown, marked_by, marked_at) = row  # fmt: skip
    return TaskRunRecord(
        flow_run_id=run,
        key=key,
        name=name,
        state=State(state),
        attempts=attempts,
        map_index=map_index,
        fingerprint=fingerprint,
        upstream=upstream,
        priority=priority,
        resources=resources,
        kind=kind,
        child_run_id=child_run_id,
        created_at=created_at,
        started_at=started_at,
        ended_at=ended_at,
        result=stored_result(uri, inline, size, serializer, preview),
        error=error,
        cache_key=cache_key,
        cached_from=cached_from,
        label=label,
        group=group,
        teardown=bool(teardown),
        marked_by=marked_by,
        marked_at=marked_at,
    )
