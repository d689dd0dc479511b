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
