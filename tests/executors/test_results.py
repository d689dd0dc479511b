"""The result store: inline or file, pickle or numpy, previews, fsspec URLs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pauta.store.results import ResultStore, make_preview


@pytest.fixture
def store(tmp_path: Path) -> ResultStore:
    return ResultStore(str(tmp_path / "results"), inline_max=1024)


def test_small_results_stay_inline_and_touch_no_file(store, tmp_path):
    for value in (None, 3, "text", {"a": [1, 2]}, (1.5, b"raw")):
        stored = store.put(value, run_id="r", key="k", attempt=1)
        assert stored.uri is None
        assert stored.inline is not None
        assert stored.serializer == "pickle"
        assert stored.size == len(stored.inline)
        assert store.get(stored) == value
    assert not (tmp_path / "results").exists()


def test_large_results_go_to_a_file_per_attempt(store, tmp_path):
    value = {"rows": list(range(2000))}
    first = store.put(value, run_id="run-9", key="load_week", attempt=1)
    second = store.put(value, run_id="run-9", key="load_week", attempt=2)
    assert first.inline is None
    assert first.uri == str(tmp_path / "results" / "run-9" / "load_week.1.pkl")
    assert second.uri.endswith("load_week.2.pkl")
    assert Path(first.uri).stat().st_size == first.size > 1024
    assert store.get(first) == value
    assert first.preview.startswith("{'rows': [0, 1, 2")


def test_keys_become_safe_distinct_file_names(store, tmp_path):
    big = b"z" * 5000
    uris = {
        store.put(big, run_id="r", key=key, attempt=1).uri
        for key in ("a/b", "a_b", "../escape", "train[3]", "x:y")
    }
    assert len(uris) == 5
    for uri in uris:
        assert Path(uri).parent == tmp_path / "results" / "r"


def test_numpy_arrays_use_npy_without_pickle(store):
    small = np.arange(10, dtype=np.int32)
    stored = store.put(small, run_id="r", key="small", attempt=1)
    assert stored.serializer == "numpy"
    assert stored.inline is not None
    assert np.array_equal(store.get(stored), small)

    large = np.ones((300, 20))
    stored = store.put(large, run_id="r", key="large", attempt=1)
    assert stored.serializer == "numpy"
    assert stored.uri.endswith("large.1.npy")
    assert stored.preview == "ndarray shape=(300, 20) dtype=float64"
    assert np.array_equal(store.get(stored), large)

    objects = np.array([{"a": 1}, None], dtype=object)
    stored = store.put(objects, run_id="r", key="objects", attempt=1)
    assert stored.serializer == "pickle"
    assert store.get(stored)[0] == {"a": 1}


def test_unpicklable_values_raise_and_leave_no_partial_file(store, tmp_path):
    import threading

    with pytest.raises(TypeError):
        store.put([b"x" * 5000, threading.Lock()], run_id="r", key="bad", attempt=1)
    assert list((tmp_path / "results").rglob("*.pkl")) == []


def test_delete_run(store, tmp_path):
    stored = store.put(b"x" * 5000, run_id="old", key="k", attempt=1)
    keep = store.put(b"x" * 5000, run_id="new", key="k", attempt=1)
    store.delete_run("old")
    assert not Path(stored.uri).exists()
    assert Path(keep.uri).exists()
    store.delete_run("never-existed")


def test_fsspec_urls(tmp_path):
    store = ResultStore("memory://pauta-test/results", inline_max=100)
    stored = store.put(list(range(100)), run_id="r", key="k", attempt=1)
    assert stored.uri.startswith("memory://")
    assert stored.uri.endswith("pauta-test/results/r/k.1.pkl")
    assert store.get(stored) == list(range(100))
    array = store.put(np.zeros(100), run_id="r", key="a", attempt=1)
    assert np.array_equal(store.get(array), np.zeros(100))
    store.delete_run("r")
    import fsspec

    assert not fsspec.filesystem("memory").exists("/pauta-test/results/r")

    local = ResultStore(f"file://{tmp_path}/res", inline_max=10)
    stored = local.put("a longer string", run_id="r", key="k", attempt=1)
    assert stored.uri == f"{tmp_path}/res/r/k.1.pkl"
    assert local.get(stored) == "a longer string"


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no")


class DataFrame:
    """Looks like a pandas DataFrame to the preview (pandas is not installed here)."""

    __module__ = "pandas.core.frame"
    shape = (3, 2)
    columns = ("a", "b")


def test_previews():
    assert make_preview(None) == "None"
    assert make_preview(np.zeros((2, 3), dtype=np.float32)) == (
        "ndarray shape=(2, 3) dtype=float32"
    )
    assert make_preview(DataFrame()) == "DataFrame shape=(3, 2) columns=[a, b]"
    assert make_preview(_BadRepr()) == "<_BadRepr>"
    long = make_preview("x" * 10_000)
    assert len(long) <= 200
    assert long.startswith("'xxx")
    assert len(make_preview(list(range(100_000)))) <= 200
    assert len(make_preview({i: "y" * 500 for i in range(50)})) <= 200
    huge = make_preview(10**5000)
    assert len(huge) <= 200


def test_importing_stays_light():
    code = (
        "import sys, pauta.store.results, pauta.executors.local, pauta.executors.inline;"
        "print(sorted(m for m in ('numpy', 'fsspec', 'cloudpickle') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
