"""Virtualenvs for ``venv`` tasks: one per (requirements, interpreter), built once, shared.

An environment lives in ``<envs>/<key>``, the key a hash of the sorted requirements and the
interpreter, so every attempt, run, worker and process asking for the same pair finds the same
folder. Beside it:

- ``<key>.lock``: held while the environment is built; a second builder (a thread, another
  worker process) waits on it and then reuses what the first built.
- ``<key>.use``: held shared by every process running tasks in it, so ``prune`` never removes an
  environment in use; its modification time says when it was last taken into use.
- ``<key>.log``: what the last build ran and printed.

A marker file written last inside the environment says it is complete: a build cut short (a
killed worker, a full disk) leaves none and is built again from scratch.

Environments are built with ``uv`` when it is installed (on ``PATH`` or beside this interpreter,
as the ``pauta[uv]`` extra puts it), else with ``python -m venv`` and pip;
``PAUTA_ENV_INSTALLER=uv`` or ``pip`` forces one. pauta's runtime is made importable inside
without installing pauta's dependencies there: a ``.pth`` file in the environment's
site-packages names a folder that holds links to pauta's own package and the two small
pure-Python packages its worker imports (cloudpickle, cronsim). A ``.pth`` folder comes after
site-packages, so a task that pins its own cloudpickle gets it.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from hashlib import sha256
from pathlib import Path
from typing import IO, Any

from pauta.core.clock import get_clock
from pauta.core.errors import PautaError
from pauta.definitions.environments import VenvSpec

MARKER = "pauta-env.json"
RUNTIME_DIR = "pauta-runtime"
PTH_FILE = "_pauta_runtime.pth"
REQUIREMENTS_FILE = "pauta-requirements.txt"
RUNTIME_PACKAGES = ("pauta", "cloudpickle", "cronsim")
INSTALLERS = ("uv", "pip")
_KEY = re.compile(r"[0-9a-f]{16}")
_TAIL_CHARS = 3000
# What a fresh environment's interpreter says about itself.
_PROBE = (
    "import json, sys, sysconfig; "
    "print(json.dumps({'version': list(sys.version_info[:3]), "
    "'purelib': sysconfig.get_paths()['purelib']}))"
)
# Variables that would make an installer or the check see another environment's packages.
_FOREIGN = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONNOUSERSITE")


class EnvBuildError(PautaError):
    """A task's virtualenv could not be built; ``tail`` is the end of what the installer said."""

    def __init__(self, message: str, tail: str = "") -> None:
        super().__init__(message)
        self.tail = tail


@dataclass(frozen=True, slots=True)
class EnvInfo:
    """One environment under the envs folder, as ``pauta envs list`` shows it."""

    key: str
    path: str
    complete: bool
    in_use: bool
    requirements: list[str]
    python: str | None
    python_version: str
    installer: str
    built_at: float | None
    build_seconds: float | None
    last_used: float | None
    size_bytes: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Env:
    """A complete environment, held in use (shared lock on ``<key>.use``) until ``release``."""

    def __init__(self, key: str, path: Path, *, built: bool, seconds: float, use_fd: int) -> None:
        self.key = key
        self.path = path
        self.python = path / "bin" / "python"
        self.built = built  # this call built it (else it was there, or another process built it)
        self.seconds = seconds  # how long taking it took, its build or the wait for it included
        self._use_fd: int | None = use_fd

    def release(self) -> None:
        if self._use_fd is not None:
            os.close(self._use_fd)
            self._use_fd = None


def interpreter_of(spec: VenvSpec) -> str:
    """The interpreter an environment is built from, as its key records it."""
    if spec.python is not None:
        return spec.python
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def env_key(spec: VenvSpec) -> str:
    """The environment's folder name: a hash of the sorted requirements and the interpreter."""
    identity = {"requirements": sorted(set(spec.requirements)), "python": interpreter_of(spec)}
    return sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


class Environments:
    """The virtualenvs under one folder (``<home>/envs`` unless ``PAUTA_ENVS_DIR`` says)."""

    def __init__(self, root: Path | str, *, installer: str | None = None) -> None:
        self.root = Path(root)
        self._installer = installer
        self._procs: set[subprocess.Popen[bytes]] = set()
        self._procs_lock = threading.Lock()
        self._stopped = False

    # -- taking one into use ----------------------------------------------------------------
    def acquire(self, spec: VenvSpec) -> Env:
        """The environment of ``spec``, built first if needed; blocks while it is built here or
        by another process. Raises ``EnvBuildError`` with the installer's tail on failure."""
        key = env_key(spec)
        path = self.root / key
        self.root.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        built = False
        with _locked(self.root / f"{key}.lock"):
            if not (path / MARKER).is_file():
                self._build(spec, key, path)
                built = True
            use_fd = _lock(self.root / f"{key}.use", fcntl.LOCK_SH)
        assert use_fd is not None
        with suppress(OSError):
            os.utime(self.root / f"{key}.use")
        if not built:
            # Another pauta installation may have built it: point at this one's runtime.
            _link_runtime(path, None)
        return Env(key, path, built=built, seconds=time.monotonic() - started, use_fd=use_fd)

    def stop(self) -> None:
        """Kill the installers running now (the executor is shutting down)."""
        with self._procs_lock:
            self._stopped = True
            procs = list(self._procs)
        for proc in procs:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)

    # -- listing and pruning ----------------------------------------------------------------
    def list(self) -> list[EnvInfo]:
        """Every environment here, complete or not, with when it was built and last used."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and _KEY.fullmatch(entry.name):
                found.append(self._info(entry))
        return found

    def prune(
        self, *, unused_for: float | None, everything: bool = False, now: float
    ) -> list[EnvInfo]:
        """Remove environments not in use nor being built that are incomplete, unused for
        ``unused_for`` seconds (by ``now``, epoch seconds), or any when ``everything``."""
        removed = []
        for info in self.list():
            build_fd = _lock(self.root / f"{info.key}.lock", fcntl.LOCK_EX, wait=False)
            if build_fd is None:
                continue  # being built
            try:
                use_fd = _lock(self.root / f"{info.key}.use", fcntl.LOCK_EX, wait=False)
                if use_fd is None:
                    continue  # a process runs tasks in it
                try:
                    last = info.last_used or info.built_at or 0.0
                    stale = unused_for is not None and now - last >= unused_for
                    if everything or not info.complete or stale:
                        shutil.rmtree(info.path, ignore_errors=True)
                        # unlinked while held: a process waiting on them notices and retries
                        for suffix in (".log", ".use", ".lock"):
                            with suppress(FileNotFoundError):
                                os.unlink(self.root / f"{info.key}{suffix}")
                        removed.append(info)
                finally:
                    os.close(use_fd)
            finally:
                os.close(build_fd)
        self._remove_orphans()
        return removed

    def _remove_orphans(self) -> None:
        """The lock and log files of failed builds, whose environment folder was removed."""
        if not self.root.is_dir():
            return
        sidecars = (".log", ".lock", ".use")
        keys = {p.stem for p in self.root.iterdir() if p.suffix in sidecars}
        keys = {key for key in keys if _KEY.fullmatch(key)}
        for key in sorted(keys):
            if (self.root / key).exists():
                continue
            build_fd = _lock(self.root / f"{key}.lock", fcntl.LOCK_EX, wait=False)
            if build_fd is None:
                continue  # being built right now
            try:
                for suffix in sidecars:
                    with suppress(FileNotFoundError):
                        os.unlink(self.root / f"{key}{suffix}")
            finally:
                os.close(build_fd)

    def _info(self, path: Path) -> EnvInfo:
        key = path.name
        try:
            marker = json.loads((path / MARKER).read_text())
        except (OSError, ValueError):
            marker = None
        use = self.root / f"{key}.use"
        try:
            last_used: float | None = use.stat().st_mtime
        except OSError:
            last_used = None
        probe = _lock(use, fcntl.LOCK_EX, wait=False) if use.exists() else None
        in_use = use.exists() and probe is None
        if probe is not None:
            os.close(probe)
        marker = marker or {}
        return EnvInfo(
            key=key,
            path=str(path),
            complete=bool(marker),
            in_use=in_use,
            requirements=list(marker.get("requirements", [])),
            python=marker.get("python"),
            python_version=marker.get("python_version", ""),
            installer=marker.get("installer", ""),
            built_at=marker.get("built_at"),
            build_seconds=marker.get("build_seconds"),
            last_used=last_used,
            size_bytes=_size(path),
        )

    # -- building ---------------------------------------------------------------------------
    def _build(self, spec: VenvSpec, key: str, path: Path) -> None:
        started = time.monotonic()
        if path.exists():
            shutil.rmtree(path)  # an earlier build was cut short
        installer, tool = self._choose_installer()
        log_path = self.root / f"{key}.log"
        with open(log_path, "w", encoding="utf-8") as log:
            steps = _Steps(log, log_path, self)
            try:
                base = _base_interpreter(spec.python, installer)
                if installer == "uv":
                    steps.run("creating it", [tool, "venv", "--quiet", "--python", base, path])
                else:
                    steps.run("creating it", [base, "-m", "venv", path])
                python = path / "bin" / "python"
                asked = steps.run("asking its Python", [python, "-c", _PROBE], capture=True)
                probe = json.loads(asked)
                version = ".".join(str(part) for part in probe["version"])
                _same_minor(probe["version"], spec)
                if spec.requirements:
                    requirements = path / REQUIREMENTS_FILE
                    requirements.write_text("".join(f"{r}\n" for r in spec.requirements))
                    if installer == "uv":
                        command = [tool, "pip", "install", "--python", python]
                    else:
                        command = [python, "-m", "pip", "install", "--no-input", "--quiet"]
                    steps.run("installing the requirements", [*command, "-r", requirements])
                _link_runtime(path, Path(probe["purelib"]))
                steps.run("importing pauta's runtime in it", [python, "-c", _CHECK])
            except BaseException:
                shutil.rmtree(path, ignore_errors=True)
                raise
        marker = {
            "key": key,
            "requirements": list(spec.requirements),
            "python": spec.python,
            "interpreter": interpreter_of(spec),
            "python_version": version,
            "installer": installer,
            "built_at": get_clock().timestamp(),
            "build_seconds": round(time.monotonic() - started, 3),
        }
        partial = path / f"{MARKER}.partial"
        partial.write_text(json.dumps(marker, indent=2))
        os.replace(partial, path / MARKER)

    def _choose_installer(self) -> tuple[str, str]:
        wanted = self._installer or os.environ.get("PAUTA_ENV_INSTALLER") or None
        if wanted is not None and wanted not in INSTALLERS:
            raise EnvBuildError(
                f"PAUTA_ENV_INSTALLER={wanted!r} is not one of {', '.join(INSTALLERS)}"
            )
        uv = find_uv()
        if wanted == "uv" and uv is None:
            raise EnvBuildError(
                "PAUTA_ENV_INSTALLER=uv but uv is not installed: `pip install 'pauta[uv]'`, "
                "or unset PAUTA_ENV_INSTALLER to build with pip"
            )
        if wanted != "pip" and uv is not None:
            return "uv", uv
        return "pip", "pip"

    def track(self, proc: subprocess.Popen[bytes], *, add: bool) -> None:
        with self._procs_lock:
            if add:
                self._procs.add(proc)
            else:
                self._procs.discard(proc)
            stopped = self._stopped
        if add and stopped:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)


_CHECK = "import pauta, pauta.executors.worker"


class _Steps:
    """Runs a build's commands one after the other, their output going to the build log."""

    def __init__(self, log: IO[str], log_path: Path, owner: Environments) -> None:
        self.log = log
        self.log_path = log_path
        self.owner = owner
        self.env = {k: v for k, v in os.environ.items() if k not in _FOREIGN}

    def run(self, what: str, command: Sequence[str | Path], *, capture: bool = False) -> str:
        """Run ``command`` (its output to the log, or returned when ``capture``); raises
        ``EnvBuildError`` with the log's tail when it fails."""
        argv = [str(part) for part in command]
        self.log.write(f"$ {' '.join(argv)}\n")
        self.log.flush()
        try:
            proc = subprocess.Popen(
                argv,
                stdout=subprocess.PIPE if capture else self.log,
                stderr=self.log,
                stdin=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,  # killed with whatever it starts when pauta stops
            )
        except OSError as exc:
            raise EnvBuildError(
                f"building the virtualenv failed while {what}: cannot run {argv[0]}: {exc.strerror}"
            ) from None
        self.owner.track(proc, add=True)
        try:
            out, _ = proc.communicate()
        finally:
            self.owner.track(proc, add=False)
        text = (out or b"").decode("utf-8", "replace")
        if proc.returncode != 0:
            tail = _tail(self.log_path)
            how = f"exit code {proc.returncode}" if proc.returncode > 0 else "it was killed"
            raise EnvBuildError(
                f"building the virtualenv failed while {what} ({Path(argv[0]).name} ended "
                f"with {how}); the installer's last lines:\n{tail[-1500:]}\n"
                f"(the whole log: {self.log_path})",
                tail,
            )
        return text


def find_uv() -> str | None:
    """uv on ``PATH``, or beside this interpreter (``pip install 'pauta[uv]'`` in a virtualenv
    that is not activated)."""
    found = shutil.which("uv")
    if found:
        return found
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def _base_interpreter(python: str | None, installer: str) -> str:
    """What to create the environment from: a path, or a version uv finds (pip needs
    ``pythonX.Y`` on ``PATH``)."""
    if python is None:
        return interpreter_of(VenvSpec())
    expanded = os.path.expanduser(python)
    if os.sep in expanded:
        if not os.access(expanded, os.X_OK):
            raise EnvBuildError(f"python={python!r}: no interpreter there")
        return expanded
    if installer == "uv":
        return python
    command = f"python{python}" if python[:1].isdigit() else python
    found = shutil.which(command)
    if found is None:
        raise EnvBuildError(
            f"python={python!r}: {command} is not on PATH; give the interpreter's path, or "
            "install uv (`pip install 'pauta[uv]'`), which finds or fetches that version"
        )
    return found


def _same_minor(version: Sequence[int], spec: VenvSpec) -> None:
    """Values cross into the environment pickled: that needs one Python minor version."""
    ours = sys.version_info[:2]
    if tuple(version[:2]) != ours:
        theirs = ".".join(str(v) for v in version[:2])
        raise EnvBuildError(
            f"python={spec.python!r} is Python {theirs} but pauta runs on Python "
            f"{ours[0]}.{ours[1]}: arguments and results cross between them pickled, which "
            f"needs the same minor version; name a Python {ours[0]}.{ours[1]} interpreter"
        )


def _link_runtime(env: Path, purelib: Path | None) -> None:
    """Make pauta's runtime importable in ``env``: links to this installation's packages in
    its runtime folder, and (given the site-packages folder) the ``.pth`` file naming it."""
    runtime = env / RUNTIME_DIR
    link_packages(runtime, RUNTIME_PACKAGES)
    if purelib is not None:
        (purelib / PTH_FILE).write_text(f"{runtime}\n")


def package_paths(names: Sequence[str]) -> list[Path]:
    """Where this interpreter imports each package (a folder) or module (a file) from."""
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            found.append(Path(next(iter(spec.submodule_search_locations))))
        elif spec.origin:
            found.append(Path(spec.origin))
    return found


def link_packages(folder: Path, names: Sequence[str]) -> Path:
    """``folder`` holding links to this interpreter's ``names`` (made or refreshed)."""
    folder.mkdir(exist_ok=True)
    for target in package_paths(names):
        _point(folder / target.name, target)
    return folder


def _point(link: Path, target: Path) -> None:
    """``link`` -> ``target``, replaced atomically when it points elsewhere."""
    with suppress(OSError):
        if os.readlink(link) == str(target):
            return
    partial = link.with_name(f".{link.name}.{os.getpid()}.{threading.get_ident()}")
    with suppress(FileNotFoundError):
        os.unlink(partial)
    os.symlink(target, partial)
    os.replace(partial, link)


def _lock(path: Path, mode: int, *, wait: bool = True) -> int | None:
    """A descriptor of ``path`` locked with ``flock(mode)``; None when ``wait`` is false and
    another process holds it. Retries when the file was removed while waiting for it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = _lock(path, fcntl.LOCK_EX)
    assert fd is not None
    try:
        yield
    finally:
        os.close(fd)


def _tail(path: Path, limit: int = _TAIL_CHARS) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, os.fstat(handle.fileno()).st_size - limit))
            return handle.read().decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _size(path: Path) -> int:
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with suppress(OSError):
                total += os.lstat(os.path.join(folder, name)).st_size
    return total
