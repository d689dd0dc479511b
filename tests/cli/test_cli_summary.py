"""The run summary written without rich is byte for byte what rich prints to a pipe, and rich
is left to print whatever it would lay out otherwise."""

from __future__ import annotations

import io
import os
import random
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from rich.console import Console

from pauta.cli import progress
from pauta.cli.summary import (
    STYLES,
    TASK_COLUMNS,
    TASKS_COLUMNS,
    Block,
    Markup,
    Table,
    console_width,
    plain_text,
    styled,
    task_rows,
    writes_to_terminal,
)
from pauta.core.states import State

STATES = ["SUCCEEDED", "FAILED", "UPSTREAM_FAILED", "RUNNING", "CACHED", "SKIPPED", "PENDING"]


def rich_text(blocks: list[Block], width: int) -> str:
    """What ``pauta run`` prints with rich, to a console that is not a terminal."""
    out = io.StringIO()
    console = Console(file=out, width=width)
    assert not console.is_terminal
    for block in blocks:
        if isinstance(block, Table):
            console.print(progress.table(block), crop=False)
        elif isinstance(block, Markup):
            console.print(str(block))
        else:
            console.print(progress.text(block))
    return out.getvalue()


def word(rng: random.Random, longest: int) -> str:
    return "".join(
        rng.choices(string.ascii_letters + string.digits + "_-.", k=rng.randint(1, longest))
    )


def sentence(rng: random.Random, words: int, longest: int = 9) -> str:
    return " ".join(word(rng, longest) for _ in range(rng.randint(0, words)))


def calls_table(rng: random.Random) -> Table:
    rows = []
    for index in range(rng.randint(1, 25)):
        state = rng.choice(STATES)
        rows.append(
            (
                f"{word(rng, 14)}-{index}",
                styled(state, STYLES.get(state, "")),
                str(rng.randint(1, 12)) if rng.random() < 0.8 else "",
                f"{rng.random() * 10 ** rng.randint(0, 4):.2f}s" if rng.random() < 0.9 else "",
                sentence(rng, rng.choice([0, 2, 6, 14])),
            )
        )
    return Table(TASK_COLUMNS, rows, f"run 06h44{word(rng, 11)} · {word(rng, 20)}")


def tasks_table(rng: random.Random) -> Table:
    rows = []
    for _ in range(rng.randint(1, 6)):
        states = sorted(rng.sample(STATES, rng.randint(1, 3)))
        spans: list[tuple[str, str]] = []
        for index, state in enumerate(states):
            if index:
                spans.append((", ", ""))
            spans.append((f"{rng.randint(1, 20_000):,} {state}", "green"))
        rows.append((word(rng, 18), f"{rng.randint(1, 20_000):,}", tuple(spans), "0.01s", "1.20s"))
    return Table(TASKS_COLUMNS, rows, f"run 06h44{word(rng, 11)} · {word(rng, 12)}")


def summaries(seed: int, count: int) -> Iterator[list[Block]]:
    rng = random.Random(seed)
    for _ in range(count):
        table = calls_table(rng) if rng.random() < 0.6 else tasks_table(rng)
        blocks: list[Block] = [
            table,
            styled(f"{len(table.rows)} tasks: 3 FAILED, 2 SUCCEEDED"),
            (("flow ", "bold"), ("FAILED", "bold red"), (" in 0.42s · run 06h44abc", "")),
        ]
        if rng.random() < 0.5:
            blocks.append(styled(f"step-0 failed: ValueError: {sentence(rng, 6)}", "red"))
            blocks.append(Markup("details: pauta runs show 06h44abc · logs: pauta logs 06h44abc"))
        yield blocks


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_the_plain_summary_is_what_rich_prints_wherever_it_is_used(width: int) -> None:
    written = 0
    for blocks in summaries(seed=width, count=300):
        plain = plain_text(blocks, width)
        if plain is not None:
            written += 1
            assert plain == rich_text(blocks, width)
    if width >= 80:
        assert written > 30  # the common summaries do not need rich


def test_a_one_task_run_summary_is_laid_out_without_rich() -> None:
    table = Table(
        TASK_COLUMNS,
        [("noop-0", styled("SUCCEEDED", "green"), "1", "0.01s", "None")],
        "run 06h44v2hpm5g3dkj · one_task",
    )
    blocks: list[Block] = [table, styled("1 tasks: 1 SUCCEEDED")]
    assert plain_text(blocks, 80) == (
        "run 06h44v2hpm5g3dkj · one_task             \n"
        "task    state      attempt  duration  detail\n"
        "noop-0  SUCCEEDED        1     0.01s  None  \n"
        "1 tasks: 1 SUCCEEDED\n"
    )
    assert plain_text(blocks, 80) == rich_text(blocks, 80)


def test_a_calls_detail_is_its_preview_on_one_line_with_single_spaces() -> None:
    stored = SimpleNamespace(preview="total:\n  12   rows\tread")
    call = SimpleNamespace(
        state=State.SUCCEEDED, error=None, stored=stored, label=None, key="load-0", attempt=1,
        started_at=None, ended_at=None,
    )  # fmt: skip
    [row] = task_rows([call], datetime.now(UTC))  # type: ignore[list-item]
    assert row[0] == "load-0"
    assert row[4] == "total: 12 rows read"


def one_row(detail: str = "ok", label: str = "step-0", title: str = "run r1 · daily") -> Table:
    return Table(TASK_COLUMNS, [(label, styled("FAILED"), "1", "0.10s", detail)], title)


@pytest.mark.parametrize(
    "blocks",
    [
        [one_row(detail="x" * 61)],  # longer than the detail column: rich cuts it with "…"
        [one_row(detail="y " * 40)],  # wider than the console: rich shrinks the table
        [one_row(label="étape-0")],  # not one column per character for certain
        [one_row(label="step\t0")],
        [one_row(title="run r1 · [bold]daily")],  # rich reads a title as markup
        [one_row(title="run r1 · :smile:")],  # and its emoji codes
        [one_row(title="run r1 · a flow whose name is longer than the table")],  # it wraps
        [styled("z" * 81)],  # a line rich wraps
        [Markup("details: [red]x[/red]")],
    ],
)
def test_what_only_rich_lays_out_is_left_to_it(blocks: list[Block]) -> None:
    assert plain_text(blocks, 80) is None


def test_the_plain_summary_fills_the_console_to_its_last_column() -> None:
    blocks: list[Block] = [styled("z" * 80)]
    assert plain_text(blocks, 80) == rich_text(blocks, 80) == "z" * 80 + "\n"


@pytest.mark.parametrize(
    ("environ", "terminal"),
    [
        ({}, None),
        ({"TTY_COMPATIBLE": "1"}, True),
        ({"TTY_COMPATIBLE": "0", "FORCE_COLOR": "1"}, False),
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": ""}, False),
        ({"TTY_COMPATIBLE": "yes", "FORCE_COLOR": "1"}, True),
    ],
)
@pytest.mark.parametrize("device", ["pipe", "pty"])
def test_a_terminal_is_what_rich_calls_one(
    environ: dict[str, str], terminal: bool | None, device: str
) -> None:
    read, write = os.openpty() if device == "pty" else os.pipe()
    try:
        with open(write, "w", closefd=False) as stream:
            expected = (device == "pty") if terminal is None else terminal
            assert writes_to_terminal(stream, environ) is expected
            assert Console(file=stream, _environ=environ).is_terminal is expected
    finally:
        os.close(read)
        os.close(write)


@pytest.mark.parametrize("columns", [None, "50", "132"])
def test_the_width_is_the_one_rich_gives_a_pipe(
    monkeypatch: pytest.MonkeyPatch, columns: str | None
) -> None:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    assert console_width() == Console(file=io.StringIO()).width
