"""Parameters have one form: validated once, stored as JSON, seen the same by body and tasks."""

from __future__ import annotations

import pytest
from params_flows import dated

from pauta.core.errors import ParameterError
from pauta.engine.runner import Runner


def test_context_params_are_the_stored_json_form_in_the_body_and_in_tasks(runner: Runner) -> None:
    values = dated.parameters.validate_input({}, {"day": "2026-12-24"})
    run = runner.run(dated, values)
    result = run.result()
    stored = runner.engine().store.get_flow_run(run.id).params
    assert stored == {"day": "2026-12-24", "folder": "/data/in"}
    assert result["body"] == stored
    assert result["task"] == stored
    # the body's own arguments are still the declared types
    assert result["args"] == ["date", "PosixPath"]


def test_a_bad_value_is_refused_at_the_edge_naming_the_parameter() -> None:
    with pytest.raises(ParameterError) as error:
        dated.parameters.validate_input({}, {"day": "next tuesday"})
    assert "day" in str(error.value)
