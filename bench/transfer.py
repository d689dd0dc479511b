"""MariaDB to PostgreSQL: pauta's ``transfer`` against plain pandas ``read_sql`` + ``to_sql``.

    .venv/bin/python bench/transfer.py                  # 1,000,000 rows, median of 3
    .venv/bin/python bench/transfer.py --rows 200000 --repeat 1

A table of ``--rows`` rows (an id, a customer name, an amount, a timestamp and a 100-character
note: about 160 bytes a row) is made in a fresh MariaDB database (127.0.0.1:3306, root) and
copied into a fresh PostgreSQL database (127.0.0.1:5432, postgres), each time into a table that
does not exist yet. Each copy runs in a fresh process, the tools taking turns, so that process's
peak resident memory (VmHWM) is the copy's own. Printed: the medians of rows per second, of the
peak RSS and of its growth over the process with its imports and connections made.

pandas is measured only where it is installed (it is no dependency of pauta); without it only
pauta's figures are printed, saying so. Both databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve()
MARIADB = os.environ.get("PAUTA_BENCH_MARIADB", "mysql+pymysql://root@127.0.0.1:3306")
POSTGRES = os.environ.get("PAUTA_BENCH_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
DATABASE = "pauta_bench_transfer"
QUERY = "SELECT id, customer, amount, at, note FROM events"


def _peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def child(tool: str, src: str, dst: str, chunk_rows: int) -> None:
    """One copy in this process; prints its figures as a JSON line."""
    import sqlalchemy as sa

    source, target = sa.create_engine(src), sa.create_engine(dst)
    for engine in (source, target):
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    if tool == "pandas":
        import pandas as pd
    else:
        from pauta.operators import transfer
    baseline = _peak_kib()
    started = time.perf_counter()
    if tool == "pandas":
        with source.connect() as connection:
            frame = pd.read_sql(sa.text(QUERY), connection)
        rows = len(frame)
        frame.to_sql("events", target, index=False)
        del frame
    else:
        rows = transfer(src, QUERY, dst, "events", chunk_rows=chunk_rows).rows
    seconds = time.perf_counter() - started
    with target.connect() as connection:
        landed = connection.execute(sa.text("SELECT COUNT(*) FROM events")).scalar_one()
    print(
        json.dumps(
            {
                "rows": rows,
                "landed": landed,
                "seconds": seconds,
                "peak_kib": _peak_kib(),
                "baseline_kib": baseline,
            }
        )
    )


def _admin(url: str, autocommit: bool = False):  # type: ignore[no-untyped-def]
    import sqlalchemy as sa

    options = {"isolation_level": "AUTOCOMMIT"} if autocommit else {}
    return sa.create_engine(url, **options)


def setup(rows: int) -> tuple[str, str]:
    """Fresh databases, and the source table filled by MariaDB itself (its sequence engine)."""
    maria = _admin(f"{MARIADB}/")
    with maria.begin() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {DATABASE}")
        connection.exec_driver_sql(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
        connection.exec_driver_sql(f"USE {DATABASE}")
        connection.exec_driver_sql(
            "CREATE TABLE events (id INT PRIMARY KEY, customer VARCHAR(40), "
            "amount DECIMAL(12, 2), at DATETIME, note VARCHAR(200))"
        )
        connection.exec_driver_sql(
            "INSERT INTO events SELECT seq, CONCAT('customer-', seq MOD 5000), "
            "(seq MOD 100000) / 100, '2026-01-01' + INTERVAL seq SECOND, REPEAT('n', 100) "
            f"FROM seq_1_to_{rows}"
        )
    maria.dispose()
    _postgres(create=True)
    return f"{MARIADB}/{DATABASE}?charset=utf8mb4", f"{POSTGRES}/{DATABASE}"


def _postgres(*, create: bool) -> None:
    admin = _admin(f"{POSTGRES}/postgres", autocommit=True)
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        if create:
            connection.exec_driver_sql(f"CREATE DATABASE {DATABASE}")
    admin.dispose()


def teardown() -> None:
    _postgres(create=False)
    maria = _admin(f"{MARIADB}/")
    with maria.begin() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {DATABASE}")
    maria.dispose()


def _drop_target(dst: str) -> None:
    engine = _admin(dst)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS events")
    engine.dispose()


def _once(tool: str, src: str, dst: str, chunk_rows: int) -> dict[str, float]:
    _drop_target(dst)
    done = subprocess.run(
        [sys.executable, str(HERE), "--child", tool, src, dst, str(chunk_rows)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{done.stderr[-4000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if figures["landed"] != figures["rows"]:
        raise SystemExit(f"{tool}: {figures['rows']} rows read but {figures['landed']} landed")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to move (1,000,000)")
    parser.add_argument("--repeat", type=int, default=3, help="copies per tool (3)")
    parser.add_argument("--chunk-rows", type=int, default=50_000, help="transfer's chunk_rows")
    parser.add_argument(
        "--child", nargs=4, metavar=("TOOL", "SRC", "DST", "CHUNK"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        tool, src, dst, chunk = args.child
        child(tool, src, dst, int(chunk))
        return
    console = Console()
    tools = ["pauta"]
    if importlib.util.find_spec("pandas") is not None:
        tools.append("pandas")
    else:
        console.print("pandas is not installed: only pauta's figures are measured")
    console.print(f"making {args.rows:,} rows in MariaDB ...")
    src, dst = setup(args.rows)
    results: dict[str, list[dict[str, float]]] = {tool: [] for tool in tools}
    try:
        for attempt in range(args.repeat):
            for tool in tools if attempt % 2 == 0 else tools[::-1]:
                figures = _once(tool, src, dst, args.chunk_rows)
                results[tool].append(figures)
                peak = figures["peak_kib"] / 1024
                console.print(f"  {tool}: {figures['seconds']:.1f} s, peak {peak:.0f} MiB")
    finally:
        teardown()
    table = Table(
        title=f"MariaDB -> PostgreSQL, {args.rows:,} rows, chunk_rows={args.chunk_rows:,} "
        f"(medians of {args.repeat})"
    )
    for column in ("tool", "seconds", "rows/s", "peak RSS (MiB)", "growth (MiB)"):
        table.add_column(column, justify="left" if column == "tool" else "right")
    for tool, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        peak = statistics.median(r["peak_kib"] for r in runs) / 1024
        growth = statistics.median(r["peak_kib"] - r["baseline_kib"] for r in runs) / 1024
        label = "pauta transfer" if tool == "pauta" else "pandas read_sql + to_sql"
        table.add_row(
            label, f"{seconds:.1f}", f"{args.rows / seconds:,.0f}", f"{peak:.0f}", f"{growth:.0f}"
        )
    console.print(table)


if __name__ == "__main__":
    main()
