"""The CLI adds the command that helps next to the errors of the layers below it, which say
only what is wrong (the API shows the same errors without CLI commands)."""

from __future__ import annotations

import pytest

from pauta.cli.common import with_hint
from pauta.core.errors import (
    AmbiguousRunIdError,
    FlowNotFoundError,
    ParameterError,
    RunNotFoundError,
    UnknownUserError,
)


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (
            RunNotFoundError("no run with id 'abcd'"),
            "no run with id 'abcd'; list runs with `pauta runs list`",
        ),
        (
            AmbiguousRunIdError(
                "the id prefix 'ab' matches several runs (…); give more characters"
            ),
            "the id prefix 'ab' matches several runs (…); give more characters",
        ),
        (
            UnknownUserError("no user named 'eve'"),
            "no user named 'eve'; create it first with `pauta users create`",
        ),
        (
            FlowNotFoundError("no flow named 'etl' in the store"),
            "no flow named 'etl' in the store; check the name with `pauta flows list`",
        ),
        (ParameterError("bad day"), "bad day"),
    ],
)
def test_errors_get_the_command_that_helps_next(error: Exception, shown: str) -> None:
    assert with_hint(error) == shown  # type: ignore[arg-type]


def test_the_store_says_what_is_wrong_without_cli_commands(tmp_path) -> None:
    from pauta.core.settings import Settings
    from pauta.store.repository import Store

    settings = Settings.from_env(tmp_path / "home")
    settings.ensure_home()
    store = Store.from_settings(settings)
    try:
        for call in (
            lambda: store.get_flow_run("nosuchrun"),
            lambda: store.set_paused("nosuchflow", True),
        ):
            with pytest.raises((RunNotFoundError, FlowNotFoundError)) as caught:
                call()
            assert "pauta " not in str(caught.value)
    finally:
        store.close()
