"""Post wrong passwords to a server's /login from many clients at once until stdin closes,
then print the answers' status codes as JSON. Run as a process of its own, so that the test
measuring the server does not share an interpreter lock with the clients.

    python ui_flood.py HOST:PORT CLIENTS
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
from collections import Counter
from contextlib import closing
from urllib.parse import urlencode

FORM_TOKEN = "flood-form-token"  # the form token and its cookie only have to match


def post_login(
    conn: http.client.HTTPConnection, username: str, address: str
) -> tuple[int, str | None]:
    """One wrong password for ``username``, seemingly from ``address``: (status, Retry-After)."""
    body = urlencode({"username": username, "password": "not it", "login_token": FORM_TOKEN})
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"pauta_login={FORM_TOKEN}",
        # the server trusts proxy headers from 127.0.0.1: each attempt seems to come from
        # another address, as a distributed guesser's would
        "X-Forwarded-For": address,
    }
    conn.request("POST", "/login", body=body, headers=headers)
    reply = conn.getresponse()
    reply.read()
    return reply.status, reply.getheader("Retry-After")


def flood(host: str, clients: int) -> Counter[int]:
    stop = threading.Event()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def guess(n: int) -> None:
        attempt = 0
        with closing(http.client.HTTPConnection(host, timeout=30)) as conn:
            while not stop.is_set():
                attempt += 1
                address = f"10.{n}.{attempt // 250 % 250}.{attempt % 250}"
                status, _ = post_login(conn, f"user{n}-{attempt}", address)
                with lock:
                    statuses[status] += 1

    threads = [threading.Thread(target=guess, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    print("started", flush=True)
    sys.stdin.read()
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


if __name__ == "__main__":
    print(json.dumps(flood(sys.argv[1], int(sys.argv[2]))), flush=True)
