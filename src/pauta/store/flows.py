"""Flows and pools: the definitions the scheduler and workers read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pauta.core.errors import FlowNotFoundError, StoreError
from pauta.store.base import StoreBase
from pauta.store.records import (
    FlowRow,
)
from pauta.store.tables import (
    flows,
    pools,
)

if TYPE_CHECKING:
    pass


class FlowsStore(StoreBase):
    """Flows' rows (one writer) and pool sizes."""

    # flows ------------------------------------------------------------------------------------
    def upsert_flow(self, row: FlowRow) -> None:
        """Record a flow's definition, every column of it (the one writer of a flow's row);
        a flow already known keeps its ``paused`` flag."""
        values = {**row.columns(), "updated_at": self.clock.now()}
        del values["name"]
        stmt = self._insert()(flows).values(name=row.name, paused=False, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[flows.c.name], set_=values)
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def get_flow(self, name: str) -> dict[str, Any] | None:
        """The flow's row as a dict (name, description, parameters_schema, schedule, timezone,
        paused, source, updated_at), or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(flows).where(flows.c.name == name)).first()
        return dict(row._mapping) if row else None

    def list_flows(self) -> list[dict[str, Any]]:
        """Every known flow, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(flows).order_by(flows.c.name))
            return [dict(row._mapping) for row in rows]

    def paused_flows(self) -> set[str]:
        """The names of the paused flows (the scheduler asks every second)."""
        with self.engine.connect() as conn:
            return set(conn.execute(sa.select(flows.c.name).where(flows.c.paused)).scalars())

    def set_paused(self, name: str, paused: bool) -> None:
        """Pause or unpause a flow's schedule. FlowNotFoundError when the flow is unknown."""
        stmt = sa.update(flows).where(flows.c.name == name).values(paused=paused)
        with self._writer.begin() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise FlowNotFoundError(
                    f"no flow named {name!r} in the store; flows are recorded when they are "
                    "discovered"
                )

    # pools ------------------------------------------------------------------------------------
    def set_pool(self, name: str, slots: int) -> None:
        """Create or resize a pool: at most ``slots`` of its tasks run at once."""
        if slots < 0:
            raise StoreError(f"pool {name!r}: slots must be 0 or more, not {slots}")
        stmt = self._insert()(pools).values(name=name, slots=slots)
        stmt = stmt.on_conflict_do_update(index_elements=[pools.c.name], set_={"slots": slots})
        with self._writer.begin() as conn:
            conn.execute(stmt)

    def list_pools(self) -> dict[str, int]:
        """Every pool's size, by name."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(pools.c.name, pools.c.slots).order_by(pools.c.name))
            return dict(rows.all())
