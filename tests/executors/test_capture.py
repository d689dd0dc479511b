"""Per-attempt log capture: descriptors in workers, a routing proxy in the driver."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from pauta.definitions.context import context
from pauta.executors.capture import FdCapture, adopt_scratch, thread_capture


def test_fd_capture_takes_print_logging_and_children(tmp_path):
    capture = FdCapture()
    try:
        log = tmp_path / "logs" / "a.1.log"
        with capture.capture(str(log)) as stream:
            print("from print")
            context().logger.warning("from the logger")
            os.system("echo from a child")
            os.write(2, b"raw fd 2\n")
            assert sys.stdout is stream
        text = log.read_text()
        for line in ("from print", "from the logger", "from a child", "raw fd 2"):
            assert line in text
        assert sys.stdout is not stream

        silent = tmp_path / "logs" / "b.1.log"
        with capture.capture(str(silent)):
            pass
        assert not silent.exists()

        with capture.capture(str(log)):
            print("appended")
        assert log.read_text().startswith(text)
        assert log.read_text().endswith("appended\n")
    finally:
        capture.close()
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["a.1.log"]


def test_adopt_scratch_moves_or_appends(tmp_path):
    scratch = tmp_path / ".worker-1.partial"
    scratch.write_text("first\n")
    adopt_scratch(str(scratch), str(tmp_path / "x.log"))
    scratch.write_text("second\n")
    adopt_scratch(str(scratch), str(tmp_path / "x.log"))
    assert (tmp_path / "x.log").read_text() == "first\nsecond\n"
    scratch.write_text("")
    adopt_scratch(str(scratch), str(tmp_path / "y.log"))
    assert not scratch.exists()
    assert not (tmp_path / "y.log").exists()


def test_thread_capture_routes_each_thread_to_its_own_log(tmp_path, capsys):
    barrier = threading.Barrier(2)

    def work(name: str) -> None:
        with thread_capture(str(tmp_path / f"{name}.log")):
            for i in range(50):
                print(f"{name} {i}")
                if i == 10:
                    barrier.wait()
            context().logger.info(f"{name} logged")

    threads = [threading.Thread(target=work, args=(n,)) for n in ("left", "right")]
    for t in threads:
        t.start()
    print("main thread line")
    for t in threads:
        t.join()
    for name, other in (("left", "right"), ("right", "left")):
        text = (tmp_path / f"{name}.log").read_text()
        assert f"{name} 49" in text
        assert f"{name} logged" in text
        assert other not in text
        assert "main thread" not in text
    assert "main thread line" in capsys.readouterr().out

    with thread_capture(str(tmp_path / "quiet.log")):
        pass
    assert not Path(tmp_path / "quiet.log").exists()


def test_a_dead_workers_scratch_goes_to_the_attempt_it_ran(tmp_path):
    """What a worker killed mid-attempt printed reaches that attempt's log, told by the note
    the worker keeps beside its scratch file; live workers' scratch files are left alone."""
    from pauta.executors.capture import owner_path, recover_scratch, scratch_path

    logs = tmp_path / "logs"
    capture = FdCapture()
    try:
        with capture.capture(str(logs / "first-0.1.log")):
            print("first")
        with capture.capture(str(logs / "hang-0.1.log")):
            print("cut off here")
            sys.stdout.flush()
            # the worker is killed now: nothing ends the attempt; copy what the kill leaves
            left = {
                name: Path(path).read_bytes()
                for name, path in (
                    ("partial", scratch_path(str(logs), os.getpid())),
                    ("note", owner_path(str(logs), os.getpid())),
                )
            }
    finally:
        capture.close()
    dead = logs / "dead"
    dead.mkdir()
    (dead / ".worker-4242.partial").write_bytes(left["partial"])
    (dead / ".worker-4242.attempt").write_bytes(
        left["note"].replace(str(logs).encode(), str(dead).encode())
    )
    (dead / ".worker-4343.partial").write_text("a live worker's\n")
    (dead / ".worker-4343.attempt").write_text(f"{dead}/other-0.1.log\n")
    (dead / ".worker-4444.partial").write_text("claims a log elsewhere\n")
    (dead / ".worker-4444.attempt").write_text(f"{tmp_path}/elsewhere.log\n")

    adopted = recover_scratch(str(dead), alive=lambda pid: pid == 4343)
    assert adopted == [str(dead / "hang-0.1.log")]
    assert (dead / "hang-0.1.log").read_text() == "cut off here\n"
    assert sorted(p.name for p in dead.iterdir()) == [
        ".worker-4343.attempt",
        ".worker-4343.partial",
        ".worker-4444.attempt",
        ".worker-4444.partial",
        "hang-0.1.log",
    ]
    assert not (tmp_path / "elsewhere.log").exists()
