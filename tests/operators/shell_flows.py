"""Flows that run ``shell`` in real worker processes (importable by name)."""

from __future__ import annotations

from pauta import flow
from pauta.operators import shell

# Prints a line, then waits (up to 10 s) until that line is in the task's log, which is what
# the task's process has as its stdout: "seen-live" proves lines reach the log as they come.
LIVE = """
echo first-line
for _ in $(seq 200); do
  grep -q first-line "/proc/$PPID/fd/1" && break
  sleep 0.05
done
grep -q first-line "/proc/$PPID/fd/1" && echo seen-live || echo not-seen
"""


@flow
def live_lines() -> str:
    return shell(LIVE).result().stdout


@flow
def sleeps(marker: str, timeout: float | None = None) -> str:
    """A command whose children (one in the background) sleep ``marker`` seconds."""
    command = f"echo started; sleep {marker} & sleep {marker}; echo done"
    return shell(command, timeout=timeout).result().stdout


short = shell.with_options(timeout=1.0, name="short_shell")


@flow
def task_timeout(marker: str) -> str:
    """The task's own timeout (a task option), not the command's."""
    return short(f"echo started; sleep {marker} & sleep {marker}").result().stdout


@flow
def exits_with(code: int, ok_codes: list[int]) -> int:
    command = f"echo out; echo 'something broke' >&2; exit {code}"
    return shell(command, ok_codes=ok_codes).result().code


retried = shell.with_options(retries=2, retry_delay=0.0, name="retried_shell")


@flow
def retried_command(path: str) -> int:
    """Fails until it has run twice (counted in ``path``): retries from with_options."""
    command = f'echo x >> "{path}"; [ "$(wc -l < "{path}")" -ge 2 ]'
    return retried(command).result().code


in_driver = shell.with_options(isolation="inline", name="inline_shell")


@flow
def inline_lines() -> str:
    """The inline executor routes this thread's output to the attempt's log."""
    return in_driver("echo from-inline; echo err-inline >&2").result().stdout
