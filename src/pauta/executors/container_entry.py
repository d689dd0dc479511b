"""What runs inside a task's container: one attempt, the way a worker runs it.

The ``container`` executor starts ``python3 -c BOOT FOLDER VERSION``: ``BOOT`` checks that the
image's Python is the minor version that pickled the item (values cross pickled, and pickles
of one minor version are not promised to load in another) and then calls ``main``, which
loads the ``WorkItem`` from the exchange folder, runs it with its context, metrics, artifacts
and secrets like any worker, and leaves the outcome there. Output goes to the container's
stdout and stderr, which the executor appends to the attempt's log while it runs.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

ITEM_FILE = "item.pickle"
CONFIG_FILE = "config.json"
OUTCOME_FILE = "outcome.pickle"
PROBLEM_FILE = "problem.txt"
WRONG_PYTHON = 86  # the exit code of BOOT when the image's Python is another minor version

# Kept to syntax every Python 3 reads, so an old image still says what is wrong.
BOOT = f"""
import os, sys
folder, wanted = sys.argv[1], sys.argv[2]
found = "%d.%d" % sys.version_info[:2]
if found != wanted:
    text = ("the image's python3 is Python " + found + ", but pauta runs Python " + wanted
            + ": values cross pickled, so use an image with Python " + wanted)
    sys.stderr.write("pauta: " + text + "\\n")
    with open(os.path.join(folder, {PROBLEM_FILE!r}), "w") as handle:
        handle.write(text)
    sys.exit({WRONG_PYTHON})
from pauta.executors.container_entry import main
main(folder)
"""


@contextmanager
def _to_stdout(log_path: str) -> Iterator[TextIO]:
    """The attempt's log is the container's output: the executor appends it to the file."""
    yield sys.stdout


def main(folder: str) -> None:
    import faulthandler

    from pauta.core.process import exit_without_teardown
    from pauta.executors.pipe import PROTOCOL
    from pauta.executors.worker import encode_outcome, run_item
    from pauta.store.results import ResultStore

    faulthandler.enable(all_threads=False)
    with open(os.path.join(folder, CONFIG_FILE), encoding="utf-8") as handle:
        config = json.load(handle)
    with open(os.path.join(folder, ITEM_FILE), "rb") as handle:
        item = pickle.load(handle)
    store = ResultStore(config["results_url"], config["inline_max"])
    outcome = run_item(item, store, _to_stdout, config["worker"])
    partial = os.path.join(folder, f".{OUTCOME_FILE}")
    with open(partial, "wb") as handle:
        handle.write(pickle.dumps(encode_outcome(outcome), PROTOCOL))
    os.replace(partial, os.path.join(folder, OUTCOME_FILE))
    sys.stdout.flush()
    sys.stderr.flush()
    exit_without_teardown(0)
