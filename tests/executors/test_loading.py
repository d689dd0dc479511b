"""Finding task functions in worker processes: by reference, or by cloudpickle."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pauta.core.errors import FlowLoadError
from pauta.core.loading import load_file
from pauta.executors.base import TaskRef
from pauta.executors.loading import resolve, task_ref_for

tasks = load_file(Path(__file__).parent / "flowmods" / "tasks.py")


def test_flow_file_functions_travel_by_reference():
    ref = task_ref_for(tasks.add)
    assert ref.module == tasks.__name__
    assert ref.module.startswith("pauta_flows.")
    assert ref.qualname == "add"
    assert ref.path == str(Path(tasks.__file__))
    assert ref.pickled is None
    assert ref.token
    assert resolve(ref) is tasks.add


def test_a_flow_module_dropped_from_sys_modules_still_travels_by_reference(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cleanup that drops every ``pauta_*`` module (as a test of plugins once did) must not
    send a flow file's tasks by value: their tracebacks would show no file names."""
    monkeypatch.delitem(sys.modules, tasks.__name__)
    ref = task_ref_for(tasks.add)
    assert ref.pickled is None
    assert ref.module == tasks.__name__
    assert ref.path is not None
    assert Path(ref.path).samefile(tasks.__file__)
    assert resolve(ref)(2, 3) == tasks.add(2, 3)


def test_a_task_wrapper_is_unwrapped():
    ref = task_ref_for(tasks.double)
    assert ref.pickled is None
    assert ref.qualname == "double"
    assert task_ref_for(tasks.double.fn) == ref
    assert resolve(ref)(4) == 8


def test_importable_functions_need_no_path():
    ref = task_ref_for(json.dumps)
    assert (ref.module, ref.qualname, ref.path, ref.pickled) == ("json", "dumps", None, None)
    assert resolve(ref) is json.dumps


def test_closures_and_lambdas_are_pickled():
    adder = tasks.make_adder(4)
    ref = task_ref_for(adder)
    assert ref.pickled is not None
    assert ref.token.startswith("pickle:")
    assert resolve(ref)(1) == 5
    scale = 3
    ref = task_ref_for(lambda x: x * scale)
    assert ref.pickled is not None
    assert resolve(ref)(2) == 6


def test_resolve_caches_by_token():
    ref = task_ref_for(tasks.make_adder(1))
    assert resolve(ref) is resolve(ref)


def test_resolve_says_what_is_missing():
    ref = TaskRef(module=tasks.__name__, qualname="gone", path=tasks.__file__, token="t-gone")
    with pytest.raises(FlowLoadError, match="no attribute 'gone'"):
        resolve(ref)
    main = TaskRef(module="__main__", qualname="nowhere", path=None, token="t-main")
    with pytest.raises(FlowLoadError, match="nowhere"):
        resolve(main)


@pytest.mark.slow
def test_a_script_run_as_main_works_with_the_local_executor(tmp_path):
    script = tmp_path / "myflow.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import os
            from datetime import UTC, datetime
            import cloudpickle
            from multiprocessing.connection import wait
            from pauta.executors.base import RunInfo, WorkItem
            from pauta.executors.loading import task_ref_for
            from pauta.executors.local import LocalExecutor
            from pauta.store.results import ResultStore

            def square(x):
                return x * x, os.getpid()

            class Wake:
                def set(self):
                    pass

            if __name__ == "__main__":
                ref = task_ref_for(square)
                assert ref.module == "__main__" and ref.path == __file__, ref
                assert ref.pickled is None
                now = datetime.now(UTC)
                run = RunInfo("r", "f", {{}}, now, now, now)
                ex = LocalExecutor(workers=1, results_url={str(tmp_path / "res")!r})
                ex.start(Wake())
                blob = cloudpickle.dumps(((7,), {{}}))
                log = {str(tmp_path)!r} + "/k.log"
                ex.submit([WorkItem(run, "k", "square", 1, ref, blob, log)])
                got = []
                while not got:
                    wait(ex.waitables())
                    got = ex.collect()
                ex.shutdown()
                value, pid = ResultStore({str(tmp_path / "res")!r}).get(got[0].result)
                assert pid != os.getpid()
                print("result", value)
            """
        )
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "result 49"
