"""Flow code for a Ray cluster: the folders task functions come from, shipped as ``runtime_env``.

A task function travels by reference (``TaskRef``): its module name, and the file pauta loaded
it from. On a cluster that file is not on the other nodes, so the folder holding it travels as
the attempt's Ray ``working_dir`` (uploaded once per folder and content, cached by Ray on each
node), and the reference names the file relative to that folder: every node imports the same
module, under the same name, from the same code. pauta's own runtime (pauta, cloudpickle,
cronsim) travels as ``py_modules``, so a node needs only Ray and the task's own libraries.

A folder is measured before it is uploaded: past ``PAUTA_RAY_CODE_MAX`` bytes (100 MiB by
default) it is refused with what to do, rather than shipping a data folder to every node.
What never travels: ``IGNORED`` below, and what the folder's ``.gitignore`` and ``.rayignore``
list (Ray reads them).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import os
import tempfile
import threading
from typing import Any

from pauta.core.errors import PautaError
from pauta.executors.base import TaskRef

DEFAULT_CODE_MAX = 100 * 1024 * 1024
# Folders and files that are never flow code: version control, caches, virtualenvs, pauta's
# home. Patterns match one name (a folder's or a file's) anywhere below the shipped folder.
IGNORED = (
    ".git",
    ".hg",
    ".svn",
    "__pycache__",
    "*.pyc",
    ".pauta",
    ".venv",
    "venv",
    "node_modules",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".ipynb_checkpoints",
)
# pauta's runtime on the nodes: its vendored browser files are not needed there
_RUNTIME_IGNORED = ("__pycache__", "*.pyc", "static")
RUNTIME_PACKAGES = ("pauta", "cloudpickle", "cronsim")
WORKING_DIR = "@working_dir/"
"""How a relocated ``TaskRef.path`` starts: the rest is relative to the attempt's working
directory on the node (see ``ray_task.local_path``)."""


class CodeTooLarge(PautaError):
    """A flow's folder is larger than what pauta ships to a cluster."""


def code_max() -> int:
    text = os.environ.get("PAUTA_RAY_CODE_MAX", "")
    if not text:
        return DEFAULT_CODE_MAX
    if not text.isdigit() or int(text) < 1:
        raise PautaError(f"PAUTA_RAY_CODE_MAX={text!r} must be a positive number of bytes")
    return int(text)


def code_folder(ref: TaskRef) -> str | None:
    """The folder that must travel for ``ref`` to import on a node (None: by module name)."""
    if not ref.path:
        return None
    return os.path.dirname(os.path.realpath(ref.path))


def relocate(ref: TaskRef, folder: str) -> TaskRef:
    """``ref`` with its file named relative to ``folder`` (the node's working directory)."""
    assert ref.path is not None
    relative = os.path.relpath(os.path.realpath(ref.path), folder)
    return ref._replace(path=WORKING_DIR + relative)


def _ignored(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def folder_size(folder: str, limit: int, patterns: tuple[str, ...] = IGNORED) -> int:
    """Bytes of the files below ``folder`` that would travel; stops counting past ``limit``."""
    total = 0
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not _ignored(d, patterns)]
        for name in files:
            if _ignored(name, patterns):
                continue
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we looked
            if total > limit:
                return total
    return total


def check_size(folder: str, limit: int) -> None:
    """Refuse a folder too large to ship, saying what to do."""
    size = folder_size(folder, limit)
    if size > limit:
        raise CodeTooLarge(
            f"the flow's folder {folder} holds more than {limit // (1024 * 1024)} MiB of files "
            f"to send to the Ray cluster (PAUTA_RAY_CODE_MAX={limit}): keep data out of the "
            "flow's folder (read it from the result store or object storage), list what "
            "must not travel in a .rayignore file there, or raise PAUTA_RAY_CODE_MAX"
        )


def runtime_paths() -> list[str]:
    """The folders (or single-file modules) of pauta's runtime packages, as imported here."""
    paths = []
    for name in RUNTIME_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            paths.append(os.path.realpath(next(iter(spec.submodule_search_locations))))
        elif spec.origin:
            paths.append(os.path.realpath(spec.origin))
    return paths


class CodeShipper:
    """Uploads each code folder once per connection and answers the ``runtime_env`` for it.

    Uploads go to the cluster's own storage (Ray's GCS), named by a hash of their content: a
    folder that did not change is not sent again, and each node unpacks it once.
    """

    def __init__(self) -> None:
        self._envs: dict[str | None, dict[str, Any]] = {}
        self._runtime: list[str] | None = None
        self._lock = threading.Lock()
        self._scratch = tempfile.mkdtemp(prefix="pauta-ray-code-")
        self._limit = code_max()

    def runtime_env(self, folder: str | None) -> dict[str, Any]:
        """The ``runtime_env`` of attempts whose code lives in ``folder`` (None: only
        pauta's runtime travels)."""
        env = self._envs.get(folder)
        if env is not None:
            return env
        with self._lock:
            env = self._envs.get(folder)
            if env is None:
                env = {"py_modules": self._runtime_uris()}
                if folder is not None:
                    env["working_dir"] = self._upload_folder(folder)
                self._envs[folder] = env
        return env

    def _runtime_uris(self) -> list[str]:
        if self._runtime is None:
            from ray._private.runtime_env.py_modules import upload_py_modules_if_needed

            uploaded = upload_py_modules_if_needed(
                {"py_modules": runtime_paths(), "excludes": list(_RUNTIME_IGNORED)},
                include_gitignore=False,
                scratch_dir=self._scratch,
            )
            self._runtime = list(uploaded["py_modules"])
        return self._runtime

    def _upload_folder(self, folder: str) -> str:
        check_size(folder, self._limit)
        from ray._private.runtime_env.working_dir import upload_working_dir_if_needed

        uploaded = upload_working_dir_if_needed(
            {"working_dir": folder, "excludes": list(IGNORED)},
            include_gitignore=True,
            scratch_dir=self._scratch,
        )
        return str(uploaded["working_dir"])
