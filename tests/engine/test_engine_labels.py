"""Call labels: ``@task(label=...)`` names each call after its arguments, beside its key."""

from __future__ import annotations

import label_flows as lf
import pytest

from pauta import task
from pauta.app.runs import show_run
from pauta.core.errors import DefinitionError
from pauta.engine.runner import Runner


def test_each_call_is_labelled_from_its_arguments(runner: Runner) -> None:
    run = runner.run(lf.labelled, {"n": 3})
    assert run.state == "SUCCEEDED", run.error
    store = runner.engine().store
    labels = {t.key: t.label for t in store.list_task_runs(run.id)}
    assert labels == {
        "load-0": None,  # no label: shown by its key
        "train-0": "train[forest]",
        "train-1": "train[logreg]",  # given by keyword, depth from its default
        "score-0": "score train[forest] on load-0",  # futures show as their call's label or key
        "broken_label-0": "?",
        "load-1": None,
        "square-0[0]": "item 000",
        "square-0[1]": "item 001",
        "square-0[2]": "item 002",
    }
    # JSON (runs show --json, the API) carries the label beside the key
    view = show_run(store, run.id)
    shown = {t["key"]: t["label"] for t in view["tasks"]}
    assert shown["train-0"] == "train[forest]"
    assert shown["load-0"] is None


def test_a_label_naming_no_parameter_fails_where_the_task_is_defined() -> None:
    with pytest.raises(DefinitionError, match=r"\{knd\}, which is not a parameter.*kind"):

        @task(label="train[{knd}]")
        def train(kind: str) -> None: ...

    with pytest.raises(DefinitionError, match="name each field after a parameter"):

        @task(label="train[{}]")
        def train2(kind: str) -> None: ...

    with pytest.raises(DefinitionError, match="not a valid format string"):

        @task(label="train[{kind]")
        def train3(kind: str) -> None: ...

    with pytest.raises(DefinitionError, match="non-empty format string"):

        @task(label="")
        def train4(kind: str) -> None: ...


def test_long_labels_are_cut() -> None:
    from pauta.definitions.labels import MAX_LABEL_LENGTH, render_label

    def fn(text: str) -> None: ...

    label = render_label("{text}", fn, ("x" * 500,), {}, lambda value: None)
    assert len(label) == MAX_LABEL_LENGTH
    assert label.endswith("…")


def test_calls_in_a_group_carry_its_path_in_their_keys(runner: Runner) -> None:
    run = runner.run(lf.grouped, {"kinds": ["logreg", "forest"]})
    assert run.state == "SUCCEEDED", run.error
    assert run.result() == [
        "outside", "logreg", "logreg", "logreg", "forest", "forest", "forest", "train-level",
        "after",
    ]  # fmt: skip
    store = runner.engine().store
    groups = {t.key: t.group for t in store.list_task_runs(run.id)}
    assert groups == {
        "fit-0": None,
        "train.logreg.fit-0": "train.logreg",
        "train.logreg.fit-1[0]": "train.logreg",
        "train.logreg.fit-1[1]": "train.logreg",
        "train.forest.fit-0": "train.forest",  # counters are per group
        "train.forest.fit-1[0]": "train.forest",
        "train.forest.fit-1[1]": "train.forest",
        "train.fit-0": "train",
        "fit-1": None,  # the group ended with its block
    }
    view = show_run(store, run.id)
    assert {t["key"]: t["group"] for t in view["tasks"]} == groups


def test_a_group_name_must_be_one_plain_word() -> None:
    from pauta import group

    for bad in ("", "a.b", "-x", "x y", 3):
        with pytest.raises(DefinitionError, match="group name"), group(bad):  # type: ignore[arg-type]
            pass
