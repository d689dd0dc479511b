"""examples/warehouse_etl.py against the real servers: MariaDB (the shop) to PostgreSQL (the
warehouse), through connections added with `pauta connections add`, run with `pauta run`."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
MARIADB_SERVER = os.environ.get("PAUTA_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def shop_url() -> Iterator[str]:
    """A fresh MariaDB database with orders of three days, dropped after the test."""
    name = f"pauta_shop_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(MARIADB_SERVER + "/", poolclass=sa.NullPool)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    url = f"{MARIADB_SERVER}/{name}?charset=utf8mb4"
    shop = sa.create_engine(url, poolclass=sa.NullPool)
    with shop.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TABLE orders (id INT PRIMARY KEY, customer VARCHAR(40), "
                "amount DECIMAL(10, 2), status VARCHAR(16), created_at DATETIME)"
            )
        )
        rows = [
            {
                "id": n,
                "customer": f"c{n % 7}",
                "amount": n * 1.25,
                "status": "paid",
                # 1-99 on 2026-11-30, 100-199 on 12-01, 200-299 on 12-02, 300-399 on 12-03
                "created_at": day_of(n) + timedelta(hours=n % 24, minutes=30),
            }
            for n in range(1, 400)
        ]
        conn.execute(
            sa.text("INSERT INTO orders VALUES (:id, :customer, :amount, :status, :created_at)"),
            rows,
        )
    shop.dispose()
    yield url
    with admin.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def day_of(n: int) -> datetime:
    return datetime(2026, 11, 30) + timedelta(days=n // 100)


def pauta(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PAUTA_HOME": str(home)}
    env.pop("PAUTA_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "pauta", *args], env=env, capture_output=True, text=True, timeout=180
    )


def test_the_nightly_load_moves_one_day_snapshots_it_and_updates_the_asset(
    shop_url: str, pg_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    for name, url in (("shop", shop_url), ("warehouse", pg_url)):
        added = pauta(home, "connections", "add", name, url)
        assert added.returncode == 0, added.stderr
    lake = tmp_path / "lake"
    target = f"{EXAMPLES / 'warehouse_etl.py'}:warehouse_etl"
    for _ in range(2):  # a re-run of the same day leaves one copy of each row
        run = pauta(home, "run", target, "-p", "day=2026-12-01", "-p", f"snapshots={lake}")
        assert run.returncode == 0, run.stdout + run.stderr
    warehouse = sa.create_engine(pg_url, poolclass=sa.NullPool)
    with warehouse.connect() as conn:
        count, low, high = conn.execute(
            sa.text("SELECT COUNT(*), MIN(id), MAX(id) FROM orders")
        ).one()
    warehouse.dispose()
    assert (count, low, high) == (100, 100, 199)  # the orders created on 2026-12-01
    import pyarrow.parquet as pq

    snapshot = pq.read_table(lake / "orders-2026-12-01.parquet")
    assert snapshot.num_rows == 100
    assert sorted(snapshot.column("id").to_pylist()) == list(range(100, 200))
    from pauta.core.settings import Settings
    from pauta.store.repository import Store
    from pauta.store.tables import events

    store = Store.from_settings(Settings.from_env(home))
    with store.engine.connect() as conn:
        updates = conn.execute(
            sa.select(sa.func.count()).where(
                events.c.kind == "asset", events.c.name == "warehouse_orders"
            )
        ).scalar()
    store.close()
    assert updates == 2
