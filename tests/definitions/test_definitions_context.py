"""``context()``: a local context outside a run, the current one inside, and metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from pauta import context
from pauta.core.clock import FrozenClock, set_clock
from pauta.definitions.context import Context, Interval, current_context, use_context

T0 = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)


@pytest.fixture
def frozen() -> Iterator[FrozenClock]:
    clock = FrozenClock(T0)
    previous = set_clock(clock)
    yield clock
    set_clock(previous)


def _run_context(run_id: str, **extra: object) -> Context:
    return Context(
        run_id=run_id,
        flow_name="weekly",
        params={"n": 1},
        logical_date=T0,
        interval=Interval(T0 - timedelta(days=7), T0),
        **extra,  # type: ignore[arg-type]
    )


def test_outside_a_run_the_context_is_local(frozen: FrozenClock) -> None:
    ctx = context()
    assert current_context() is None
    assert ctx.run_id is None
    assert ctx.flow_name is None
    assert not ctx.in_run
    assert ctx.params == {}
    assert ctx.attempt == 0
    assert ctx.logical_date == T0
    assert ctx.interval.start == ctx.interval.end == T0


def test_the_local_context_follows_the_clock(frozen: FrozenClock) -> None:
    frozen.advance(hours=1)
    assert context().logical_date == T0 + timedelta(hours=1)


def test_the_logger_writes_to_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    context().logger.info("loaded %d rows", 1200)
    captured = capsys.readouterr()
    assert "INFO loaded 1200 rows" in captured.err
    assert captured.out == ""


def test_log_metric_outside_a_run_is_ignored(capsys: pytest.CaptureFixture[str]) -> None:
    # a task tested as a plain function may log metrics: nothing is sent and nothing printed
    ctx = context()
    assert ctx.metric_sink is None
    ctx.log_metric("accuracy", 0.93)
    ctx.log_metric("loss", 1, step=3)
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("value", ["high", None, object(), [0.9]], ids=repr)
def test_a_metric_that_is_not_a_number_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="metric 'accuracy' must be a number"):
        context().log_metric("accuracy", value)  # type: ignore[arg-type]


def test_a_metric_needs_a_name() -> None:
    with pytest.raises(ValueError, match="non-empty name"):
        context().log_metric("", 1.0)


def test_use_context_sets_and_restores_nested_contexts() -> None:
    outer, inner = _run_context("run-outer"), _run_context("run-inner", attempt=2)
    with use_context(outer) as entered:
        assert entered is outer
        assert context() is outer
        with use_context(inner):
            assert context() is inner
            assert context().in_run
            assert context().attempt == 2
        assert context() is outer
    assert current_context() is None
    assert context().run_id is None


def test_use_context_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError), use_context(_run_context("run-1")):
        raise RuntimeError("task failed")
    assert current_context() is None


def test_a_metric_sink_receives_name_value_and_step() -> None:
    received: list[tuple[str, float, int | None]] = []
    ctx = _run_context("run-1", metric_sink=lambda *args: received.append(args))
    with use_context(ctx):
        context().log_metric("accuracy", 0.93)
        context().log_metric("loss", 2, step=7)
    assert received == [("accuracy", 0.93, None), ("loss", 2.0, 7)]
    assert isinstance(received[1][1], float)


def test_a_param_sink_receives_the_value_as_text_and_long_values_are_refused() -> None:
    got: list[tuple[str, str]] = []
    ctx = _run_context("r1", param_sink=lambda name, value: got.append((name, value)))
    ctx.log_param("kind", "forest")
    ctx.log_param("depth", 12)
    ctx.log_param("layers", [64, 32])
    assert got == [("kind", "forest"), ("depth", "12"), ("layers", "[64, 32]")]
    with pytest.raises(ValueError, match="at most 6000 fit"):
        ctx.log_param("notes", "x" * 6001)
    with pytest.raises(ValueError, match="non-empty name"):
        ctx.log_param("", 1)
    context().log_param("ignored", 1)  # outside a run: nowhere to go, no error


def test_register_model_without_mlflow_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    from pauta.core.errors import PautaError

    monkeypatch.delenv("PAUTA_MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(PautaError, match="set PAUTA_MLFLOW_TRACKING_URI"):
        _run_context("r1").register_model("churn", "model.pkl")
    monkeypatch.setenv("PAUTA_MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    with pytest.raises(PautaError, match="inside a @task"):
        context().register_model("churn", "model.pkl")
    ctx = _run_context("r1", model_sink=lambda name, source: 7)
    assert ctx.register_model("churn", "model.pkl") == 7
