"""The web UI's pages and forms over HTTP (no browser): sessions, roles, CSRF, the trigger
form, live fragments, and page times with 10,000 runs in the store."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response
from ui_seed import seed_runs

from pauta.api.auth import create_user
from pauta.api.logins import LoginGuard
from pauta.core.clock import FrozenClock
from pauta.core.settings import Settings
from pauta.store.repository import Store
from pauta.store.tables import flow_runs
from pauta.ui import queries
from pauta.ui.app import create_app
from pauta.ui.session import safe_next

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
    answer = app_client.post("/flows/simple/pause", data={"csrf_token": csrf, "paused": "true"})
    assert answer.status_code == 200
    assert "simple paused" in answer.text  # the note, shown once
    assert store.get_flow("simple")["paused"]
    assert '<span class="pill off">paused</span>' in answer.text
    assert "simple paused" not in app_client.get("/").text
    app_client.post("/flows/simple/pause", data={"csrf_token": csrf, "paused": "false"})
    assert not store.get_flow("simple")["paused"]


def test_unknown_runs_and_flows_are_404_pages(app_client: TestClient) -> None:
    log_in(app_client, "vera")
    assert app_client.get("/runs/nosuchrun").status_code == 404
    assert app_client.get("/flows/nosuchflow").status_code == 404
    assert app_client.get("/runs/nosuchrun/tasks/x-0/logs").status_code == 404


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
