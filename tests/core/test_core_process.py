"""Ending a process without the interpreter's teardown loses nothing a user would see."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def run_script(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(body))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )


def test_exit_code_buffered_output_and_atexit_handlers_survive(tmp_path):
    out = run_script(
        tmp_path,
        """
        import atexit, sys
        from pathlib import Path
        from pauta.core.process import exit_quickly

        atexit.register(lambda: Path("atexit-ran").write_text("yes"))
        sys.stdout.write("buffered, no newline")
        sys.stderr.write("to stderr")
        exit_quickly(3)
        print("never")
        """,
    )
    assert out.returncode == 3
    assert out.stdout == "buffered, no newline"
    assert out.stderr == "to stderr"
    assert (tmp_path / "atexit-ran").read_text() == "yes"


def test_a_running_non_daemon_thread_is_joined_not_cut_off(tmp_path):
    out = run_script(
        tmp_path,
        """
        import threading, time
        from pathlib import Path
        from pauta.core.process import exit_quickly

        def finish():
            time.sleep(0.3)
            Path("thread-done").write_text("yes")

        threading.Thread(target=finish).start()
        exit_quickly(0)
        """,
    )
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "thread-done").read_text() == "yes"


def test_a_message_as_exit_code_is_printed_and_exits_1(tmp_path):
    out = run_script(
        tmp_path,
        """
        from pauta.core.process import exit_quickly

        exit_quickly("something went wrong")
        """,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "something went wrong"
