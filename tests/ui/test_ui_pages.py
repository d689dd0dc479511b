"""The web UI's pages and forms over HTTP (no browser): sessions, roles, CSRF, the trigger
form, live fragments, and page times with 10,000 runs in the store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx2 import Response
from ui_pages import assert_strict
from ui_seed import TASKS, seed_runs

from pauta.api.logins import LoginGuard
from pauta.app.users import create_user
from pauta.core.clock import FrozenClock
from pauta.core.settings import Settings
from pauta.store.repository import Store
from pauta.store.tables import flow_runs, task_attempts
from pauta.ui import queries
from pauta.ui.session import safe_next
from pauta.ui.site import create_app

PASSWORD = "a-long-password"
FLOWS = '''
from pauta import flow, task

@task
def double(x: int) -> int:
    return 2 * x

@flow
def simple(n: int, label: str = "x") -> int:
    """Doubles n."""
    return double(n).result()

@flow(schedule="0 6 * * *", timezone="Europe/Madrid")
def nightly() -> int:
    """Runs at six in the morning, Madrid time."""
    return double(1).result()
'''


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """Most page tests need one database only; the 10,000-run test uses both."""
    opened = Store(f"sqlite:///{tmp_path / 'pauta.db'}")
    yield opened
    opened.close()


@pytest.fixture
def app_client(request: pytest.FixtureRequest, home: Path, tmp_path: Path) -> Iterator[TestClient]:
    store: Store = request.getfixturevalue(
        "store" if "store" in request.fixturenames else "sqlite_store"
    )
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "simple.py").write_text(FLOWS)
    (flows / "broken.py").write_text("import a_module_that_does_not_exist\n")
    create_user(store, "olga", PASSWORD, "operator")
    create_user(store, "vera", PASSWORD, "viewer")
    app = create_app(Settings.from_env(), store=store, flows_dir=flows)
    with TestClient(app) as client:
        yield client


def login_token(client: TestClient) -> str:
    """The token of a freshly loaded login form (its cookie is now in the client)."""
    form = client.get("/login")
    found = re.search(r'name="login_token" value="([^"]+)"', form.text)
    assert found, form.text
    return found.group(1)


def log_in(client: TestClient, username: str) -> str:
    """Log in through the form and return the session's CSRF token (from the page)."""
    data = {"username": username, "password": PASSWORD, "login_token": login_token(client)}
    answer = client.post("/login", data=data)
    assert answer.status_code == 200, answer.text
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', answer.text)
    assert found
    return found.group(1)


def test_pages_need_a_session_and_go_back_after_login(app_client: TestClient) -> None:
    answer = app_client.get("/runs?state=FAILED", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/runs%3Fstate%3DFAILED"
    token = login_token(app_client)
    wrong = app_client.post(
        "/login", data={"username": "olga", "password": "nope", "login_token": token}
    )
    assert wrong.status_code == 401
    assert "Wrong user name or password." in wrong.text
    answer = app_client.post(
        "/login",
        data={
            "username": "olga",
            "password": PASSWORD,
            "next": "/runs?state=FAILED",
            "login_token": login_token(app_client),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/runs?state=FAILED"
    assert "pauta_session" in answer.cookies


def test_a_login_posted_without_this_sites_form_is_refused(app_client: TestClient) -> None:
    good = {"username": "olga", "password": PASSWORD, "next": "/runs"}
    # Another site's form: no token, or a token that does not match the form cookie.
    for data in (good, {**good, "login_token": "made-up"}):
        answer = app_client.post("/login", data=data, follow_redirects=False)
        assert answer.status_code == 403
        assert "expired or came from another site" in answer.text
        assert "pauta_session" not in answer.cookies
    # The refusal is a fresh form: logging in from it works (a stale tab recovers).
    found = re.search(r'name="login_token" value="([^"]+)"', answer.text)
    assert found
    again = app_client.post(
        "/login", data={**good, "login_token": found.group(1)}, follow_redirects=False
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/runs"
    assert "pauta_session" in again.cookies


def test_repeated_failed_logins_lock_out_for_a_while(app_client: TestClient) -> None:
    clock = FrozenClock()
    app_client.app.state.logins = LoginGuard(clock)  # type: ignore[attr-defined]

    def attempt(password: str) -> Response:
        data = {"username": "olga", "password": password, "login_token": login_token(app_client)}
        return app_client.post("/login", data=data, follow_redirects=False)

    for _ in range(5):
        assert attempt("a guess").status_code == 401
    locked = attempt("another guess")
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "1"
    assert "Too many wrong passwords" in locked.text
    # while locked out even the right password is refused: it is not checked at all
    assert attempt(PASSWORD).status_code == 429
    clock.advance(1)
    assert attempt("yet another").status_code == 401
    assert attempt(PASSWORD).headers["retry-after"] == "2"  # 1 s, 2 s, 4 s...
    clock.advance(2)
    assert attempt(PASSWORD).status_code == 303
    app_client.cookies.clear()  # logged out again
    # the success reset the count: five free attempts again
    for _ in range(5):
        assert attempt("a guess").status_code == 401
    assert attempt("a guess").status_code == 429


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/runs?state=FAILED", "/runs?state=FAILED"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("runs", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_login_only_returns_to_pages_of_this_site(given: str | None, expected: str) -> None:
    assert safe_next(given) == expected


def test_a_polled_fragment_of_an_ended_session_sends_the_page_to_login(
    app_client: TestClient,
) -> None:
    answer = app_client.get("/runs/abcd/live", headers={"HX-Request": "true"})
    assert answer.headers["HX-Redirect"].startswith("/login?next=")


def test_the_flows_page_lists_flows_and_load_errors(app_client: TestClient) -> None:
    log_in(app_client, "olga")
    page = app_client.get("/").text
    assert 'data-flow="simple"' in page
    assert "Doubles n." in page
    assert "broken.py" in page
    assert "a_module_that_does_not_exist" in page


def test_the_trigger_form_validates_and_queues_a_run(app_client: TestClient, store: Store) -> None:
    csrf = log_in(app_client, "olga")
    form = app_client.get("/flows/simple").text
    assert 'id="param-n"' in form
    assert 'value="x"' in form
    bad = app_client.post("/flows/simple/trigger", data={"csrf_token": csrf, "n": "many"})
    assert bad.status_code == 422
    assert re.search(r'id="error-n">[^<]*valid integer', bad.text)
    assert 'value="many"' in bad.text  # what was typed is kept
    missing = app_client.post("/flows/simple/trigger", data={"csrf_token": csrf})
    assert missing.status_code == 422
    assert 'id="error-n"' in missing.text
    assert store.list_flow_runs() == []
    good = app_client.post(
        "/flows/simple/trigger",
        data={"csrf_token": csrf, "n": "21", "label": "from the form"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    run_id = good.headers["location"].rsplit("/", 1)[1]
    run = store.get_flow_run(run_id)
    assert (run.state, run.params, run.trigger) == (
        "QUEUED",
        {"n": 21, "label": "from the form"},
        "manual",
    )
    # while the run is active its page polls the live fragment; the fragment says the same
    page = app_client.get(f"/runs/{run_id}").text
    assert f'hx-get="/runs/{run_id}/live"' in page
    assert 'hx-trigger="every 1s"' in app_client.get(f"/runs/{run_id}/live").text


def test_the_polled_run_fragment_does_not_carry_huge_parameters(
    app_client: TestClient, sqlite_store: Store
) -> None:
    log_in(app_client, "vera")
    big = {"n": 1, "label": "y" * 60_000}
    [run_id] = seed_runs(sqlite_store, ["simple"], 1, tasks=False)
    with sqlite_store.engine.begin() as conn:
        conn.execute(
            flow_runs.update().where(flow_runs.c.id == run_id).values(params=big, state="RUNNING")
        )
    for url in (f"/runs/{run_id}/live", f"/runs/{run_id}"):
        answer = app_client.get(url)
        assert answer.status_code == 200
        assert "y" * 1000 not in answer.text, url
        assert f'href="/api/v1/runs/{run_id}"' in answer.text  # where to read them all
        assert "&#34;n&#34;: 1" in answer.text or '"n": 1' in answer.text


def test_forms_need_the_csrf_token_and_the_operator_role(
    app_client: TestClient, sqlite_store: Store
) -> None:
    store = sqlite_store
    log_in(app_client, "olga")
    no_token = app_client.post("/flows/simple/trigger", data={"n": "1"})
    assert no_token.status_code == 403
    assert "CSRF" in no_token.text
    app_client.post("/logout")
    csrf = log_in(app_client, "vera")
    page = app_client.get("/flows/simple").text
    assert 'id="trigger-form"' not in page
    assert "Pause" not in app_client.get("/").text
    refused = app_client.post("/flows/simple/trigger", data={"csrf_token": csrf, "n": "1"})
    assert refused.status_code == 403
    assert "needs the operator role" in refused.text
    refused = app_client.post("/flows/simple/pause", data={"csrf_token": csrf, "paused": "true"})
    assert refused.status_code == 403
    assert store.list_flow_runs() == []


def test_pause_and_unpause_from_the_flows_page(app_client: TestClient, sqlite_store: Store) -> None:
    store = sqlite_store
    csrf = log_in(app_client, "olga")
    app_client.get("/")
    answer = app_client.post("/flows/nightly/pause", data={"csrf_token": csrf, "paused": "true"})
    assert answer.status_code == 200
    assert "nightly paused" in answer.text  # the note, shown once
    assert store.get_flow("nightly")["paused"]
    assert '<span class="pill off">paused</span>' in flow_row(answer.text, "nightly")
    assert "nightly paused" not in app_client.get("/").text
    app_client.post("/flows/nightly/pause", data={"csrf_token": csrf, "paused": "false"})
    assert not store.get_flow("nightly")["paused"]


def flow_row(page: str, name: str) -> str:
    """The flows table's row of one flow."""
    found = re.search(rf'<tr data-flow="{name}">.*?</tr>', page, flags=re.S)
    assert found, name
    return found.group(0)


def test_a_flow_with_nothing_automatic_is_manual_only(app_client: TestClient) -> None:
    log_in(app_client, "olga")
    row = flow_row(app_client.get("/").text, "simple")
    assert "manual only" in row
    assert "active" not in row
    assert "Pause" not in row
    assert "Trigger" in row  # it can still be run by hand
    scheduled = flow_row(app_client.get("/").text, "nightly")
    assert '<span class="pill on">active</span>' in scheduled
    assert "Pause" in scheduled


def test_the_next_run_is_shown_in_the_schedules_timezone(app_client: TestClient) -> None:
    log_in(app_client, "vera")
    next_run = re.compile(r'<time datetime="[^"]+" data-zone="Europe/Madrid"[^>]*>'
                          r"\d{4}-\d\d-\d\d 06:00 Europe/Madrid</time>")  # fmt: skip
    assert next_run.search(flow_row(app_client.get("/").text, "nightly"))
    assert next_run.search(app_client.get("/flows/nightly").text)


def test_unknown_runs_and_flows_are_404_pages(app_client: TestClient) -> None:
    log_in(app_client, "vera")
    assert app_client.get("/runs/nosuchrun").status_code == 404
    assert app_client.get("/flows/nosuchflow").status_code == 404
    assert app_client.get("/runs/nosuchrun/tasks/x-0/logs").status_code == 404


def test_not_found_fragments_are_plain_text(app_client: TestClient) -> None:
    log_in(app_client, "vera")
    payload = "<img src=x onerror=alert(1)>"
    for path in (f"/runs/{payload}/live", f"/runs/{payload}/tasks/{payload}/logs"):
        answer = app_client.get(path)
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/plain")
        assert payload in answer.text  # shown as typed, never parsed as HTML
    page = app_client.get(f"/runs/{payload}")
    assert page.status_code == 404
    assert payload not in page.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in page.text


@pytest.mark.parametrize(
    "query", ["page_no=99999999999999999999", "page_no=-99999999999999999999", "page_no=abc"]
)
def test_an_out_of_range_page_number_is_a_422_page(app_client: TestClient, query: str) -> None:
    log_in(app_client, "vera")
    answer = app_client.get(f"/runs?{query}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert '<div class="banner error">' in answer.text
    assert "page_no" in answer.text
    assert 'class="topbar"' in answer.text  # a page of the UI, with its navigation


def test_an_out_of_range_attempt_is_a_plain_422(app_client: TestClient, store: Store) -> None:
    log_in(app_client, "vera")
    seed_runs(store, ["simple"], 1)
    add_attempts(store, "seed000000000000")
    answer = app_client.get(
        "/runs/seed000000000000/tasks/load-0/logs?attempt=99999999999999999999",
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/plain")
    assert "attempt" in answer.text


def test_the_api_keeps_its_json_422(app_client: TestClient) -> None:
    log_in(app_client, "vera")
    answer = app_client.get("/api/v1/runs?limit=99999999999999999999")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "limit"


def add_attempts(store: Store, run_id: str) -> None:
    """An attempt per task call of the run, each waiting a second for a slot: the timeline."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {
            "flow_run_id": run_id,
            "key": key,
            "attempt": 1,
            "state": "SUCCEEDED",
            "queued_at": start + timedelta(seconds=2 * n),
            "started_at": start + timedelta(seconds=2 * n + 1),
            "ended_at": start + timedelta(seconds=2 * n + 2),
        }
        for n, key in enumerate(TASKS)
    ]
    with store.engine.begin() as conn:
        conn.execute(sa.insert(task_attempts), rows)


def test_every_page_carries_the_security_headers_and_no_inline_code(
    app_client: TestClient, sqlite_store: Store, tmp_path: Path
) -> None:
    assert_strict(app_client.get("/login"))
    csrf = log_in(app_client, "olga")
    run_id = (
        app_client.post(
            "/flows/simple/trigger", data={"csrf_token": csrf, "n": "2"}, follow_redirects=False
        )
        .headers["location"]
        .rsplit("/", 1)[1]
    )
    seed_runs(sqlite_store, ["simple"], 3)  # finished runs, with tasks: the grid and the timeline
    finished = "seed000000000000"
    add_attempts(sqlite_store, finished)
    pages = [
        "/",
        "/runs",
        "/runs?state=FAILED",
        "/flows/simple",
        f"/runs/{run_id}",
        f"/runs/{run_id}/live",
        f"/runs/{finished}",
        f"/runs/{finished}/live",
        f"/runs/{finished}/tasks/load-0/logs",
        "/runs/nosuchrun",
        "/api/docs",
        "/runs/nosuchrun/live",
        "/flows/nosuchflow",
        "/static/pauta.css",
        "/static/pauta.js",
    ]
    for path in pages:
        answer = app_client.get(path)
        assert answer.status_code in {200, 404}, (path, answer.status_code)
        assert_strict(answer)
    timeline = app_client.get(f"/runs/{finished}").text
    assert 'class="bar wait' in timeline  # the timeline (waits included) was checked
    bad = app_client.post("/flows/simple/trigger", data={"csrf_token": csrf, "n": "many"})
    assert bad.status_code == 422
    assert_strict(bad)
    refused = app_client.post("/flows/simple/trigger", data={"n": "1"})
    assert refused.status_code == 403
    assert_strict(refused)


@pytest.mark.slow
def test_pages_stay_fast_with_10000_runs(app_client: TestClient, store: Store) -> None:
    flows = ["simple", *(f"other{i:02d}" for i in range(19))]
    ids = seed_runs(store, flows, 10_000)
    log_in(app_client, "vera")

    started = time.perf_counter()
    recent = queries.recent_runs_by_flow(store, flows)
    per_flow = time.perf_counter() - started
    assert [len(rows) for rows in recent.values()] == [10] * 20
    assert recent["simple"][0].id == ids[-20]  # newest first

    timings = {}
    for path in ("/", "/runs", "/runs?page_no=150&state=FAILED", "/flows/simple"):
        started = time.perf_counter()
        answer = app_client.get(path)
        timings[path] = time.perf_counter() - started
        assert answer.status_code == 200, answer.text
    runs_page = app_client.get("/runs").text
    assert runs_page.count('<a class="mono" href="/runs/') == 50
    assert ids[-1] in runs_page
    grid = app_client.get("/flows/simple").text
    assert grid.count('class="square s-') >= 15 * 4  # 15 runs x (run + 3 tasks)
    # generous bounds for a shared 2-core machine; measured well under 0.1 s each
    assert per_flow < 1.0, per_flow
    assert max(timings.values()) < 2.0, timings


def test_the_run_page_shows_the_flow_log_escaped(
    app_client: TestClient, sqlite_store: Store, home: Path
) -> None:
    from pauta.engine.flowlog import capture_flow_output, flow_log_path, quiet_flow_output

    [run_id] = seed_runs(sqlite_store, ["simple"], 1, tasks=False)
    line = "<script>alert(1)</script> best accuracy 0.5 < 0.7: not deploying"
    logs_dir = Settings.from_env().logs_dir
    with quiet_flow_output(), capture_flow_output(flow_log_path(logs_dir, run_id)):
        print(line)
    log_in(app_client, "vera")
    for url in (f"/runs/{run_id}", f"/runs/{run_id}/live"):
        html = app_client.get(url).text
        assert 'id="flow-log"' in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt; best accuracy 0.5 &lt; 0.7" in html
        assert "<script>alert(1)" not in html


def test_the_task_table_shows_where_each_attempt_ran_escaped(
    app_client: TestClient, sqlite_store: Store
) -> None:
    [run_id] = seed_runs(sqlite_store, ["simple"], 1)
    ray_node = "3e9dcab3" + "0f" * 24
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        {"key": "load-0", "node": ray_node},
        {"key": "train-0", "node": "<b>host</b>"},
    ]
    with sqlite_store.engine.begin() as conn:
        conn.execute(
            sa.insert(task_attempts),
            [
                {"flow_run_id": run_id, "attempt": 1, "state": "SUCCEEDED", "started_at": at, **row}
                for row in rows
            ],
        )
    log_in(app_client, "vera")
    for url in (f"/runs/{run_id}", f"/runs/{run_id}/live"):
        html = app_client.get(url).text
        assert "<th>Node</th>" in html
        assert f'title="Ray node {ray_node}">{ray_node[:12]}</span>' in html
        assert "&lt;b&gt;host&lt;/b&gt;" in html
        assert "<b>host</b>" not in html
