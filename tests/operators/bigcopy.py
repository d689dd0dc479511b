"""Run in a fresh process by the transfer tests: two upserts of a MariaDB table into
PostgreSQL, with this process's peak resident memory before and after, as one JSON line.

    python bigcopy.py SRC_URL DST_URL CHUNK_ROWS
"""

from __future__ import annotations

import json
import sys


def peak_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def main() -> None:
    src, dst, chunk_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    from pauta.operators import sql, transfer

    # the drivers and a first connection to each side, so the baseline holds them
    sql(src, "SELECT 1 AS one")
    sql(dst, "SELECT 1 AS one")
    baseline = peak_kib()
    query = "SELECT id, name, pad FROM events"
    first = transfer(src, query, dst, "events", mode="upsert", key="id", chunk_rows=chunk_rows)
    after_first = peak_kib()
    again = transfer(src, query, dst, "events", mode="upsert", key="id", chunk_rows=chunk_rows)
    print(
        json.dumps(
            {
                "baseline_kib": baseline,
                "after_first_kib": after_first,
                "peak_kib": peak_kib(),
                "rows": [first.rows, again.rows],
                "seconds": [first.seconds, again.seconds],
            }
        )
    )


if __name__ == "__main__":
    main()
