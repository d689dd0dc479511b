"""Flows the log tests of the CLI run through `pauta run` in subprocesses."""

from __future__ import annotations

from pauta import flow, task


@task
def speak(text: str) -> str:
    print(text)
    return text


@task
def hush() -> int:
    return 1


@flow
def speaks_and_hushes(text: str = "hello from speak") -> int:
    speak(text).result()
    return hush().result()


@flow
def narrates(best: float = 0.5, minimum: float = 0.7) -> str:
    """A body that prints and logs, like the example pipeline when it does not deploy."""
    from pauta import context, secret

    print("body: comparing models")
    context().logger.warning("best accuracy %.3f < %.3f: not deploying", best, minimum)
    print(f"token is {secret('NARRATOR_TOKEN')}")
    return speak("from a task").result()


@task(retries=1, retry_delay=0.0)
def long_step(folder: str) -> str:
    """Hangs on its first execution (until the driver is killed), fails on its second, and
    succeeds on its third; each prints which one it is."""
    import time
    from pathlib import Path

    runs = Path(folder, "executions")
    count = len(runs.read_text().splitlines()) + 1 if runs.exists() else 1
    with runs.open("a") as marks:
        marks.write(f"{count}\n")
    print(f"execution {count} starts", flush=True)
    if count == 1:
        Path(folder, "hanging").write_text("1")
        time.sleep(600)
    if count == 2:
        raise RuntimeError("second execution fails, on purpose")
    return f"done on execution {count}"


@flow
def interrupted(folder: str) -> str:
    return long_step(folder).result()
