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
