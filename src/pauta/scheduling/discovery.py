"""Flow discovery: which flows the files of a folder define, each file imported in isolation.

Every ``*.py`` file under the flows folder is imported in its own short-lived Python process
with a timeout, so a file with a syntax error, a failing import, ``sys.exit()`` or an endless
loop at import becomes a ``LoadError`` (file, line, message) and never hides the other files'
flows or stalls the caller. What a file defines is cached by its (path, mtime, size) and those
of the sibling modules it imported: pass the last ``Discovery`` as ``previous`` and only
changed files are imported again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pauta.core.clock import Clock, get_clock
from pauta.core.errors import FlowLoadError, PautaError
from pauta.core.loading import load_file
from pauta.definitions.flow import Flow
from pauta.definitions.schedules import schedule_spec
from pauta.definitions.triggers import trigger_spec
from pauta.store.records import FlowRow

if TYPE_CHECKING:
    from pauta.store.repository import Store

FOLDER_ENV = "PAUTA_FLOWS"
DEFAULT_FOLDER = "flows"
DEFAULT_TIMEOUT = 30.0
PARALLEL = 2
SKIPPED_FOLDERS = frozenset({"__pycache__", "node_modules", "site-packages"})
_STDERR_TAIL = 64 * 1024
_CHILD = "from pauta.scheduling.discovery import child_main; child_main()"
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')


@dataclass(frozen=True, slots=True)
class ParameterInfo:
    """One flow parameter: its name, type as written, default (JSON form) and whether required."""

    name: str
    type: str
    default: Any
    required: bool


@dataclass(frozen=True, slots=True)
class FlowInfo:
    """What a flow file defines about one flow, read in the import process."""

    name: str
    qualname: str
    file: Path
    line: int | None
    description: str
    schedule: str | None
    timezone: str
    tags: tuple[str, ...]
    parameters: tuple[ParameterInfo, ...]
    parameters_schema: dict[str, Any]
    start: str | None = None
    end: str | None = None
    catchup: bool = False
    max_active_runs: int | None = None
    schedule_spec: dict[str, Any] | None = None
    priority: int = 0
    triggers: tuple[dict[str, Any], ...] = ()
    deadline: dict[str, Any] | None = None  # Deadline.spec()

    def row(self) -> FlowRow:
        """The flow's row in the store, as ``FlowRow.of`` made it in the import process."""
        return FlowRow(
            name=self.name,
            description=self.description,
            parameters_schema=self.parameters_schema,
            schedule=self.schedule,
            timezone=self.timezone,
            source=str(self.file),
            max_active_runs=self.max_active_runs,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings, parameters as objects)."""
        data = dataclasses.asdict(self)
        data["file"] = str(self.file)
        data["tags"] = list(self.tags)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowInfo:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["file"] = Path(values["file"])
        values["tags"] = tuple(values.get("tags") or ())
        values["triggers"] = tuple(values.get("triggers") or ())
        values["parameters"] = tuple(ParameterInfo(**p) for p in values.get("parameters") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class LoadError:
    """A flow file that could not be imported, or a flow that cannot be listed.

    ``kind`` names what went wrong: the exception type raised at import (``SyntaxError``,
    ``ModuleNotFoundError``, ``SystemExit``, ...), ``ImportTimeout``, ``ImportCrashed`` (the
    process died without reporting) or ``DuplicateFlowName``.
    """

    file: Path
    line: int | None
    message: str
    kind: str = "ImportError"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        return f"{where}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """``{"type", "message", "line"}``: the shape of errors elsewhere in pauta's JSON."""
        return {"type": self.kind, "message": self.message, "line": self.line}


Stamp = tuple[int, int]


@dataclass(frozen=True, slots=True)
class FileScan:
    """One file's import result: the cache entry ``discover`` reuses while nothing changed."""

    path: Path
    stamp: Stamp
    flows: tuple[FlowInfo, ...]
    errors: tuple[LoadError, ...]
    # sibling modules (under the flows folder) the import used, with their stamps
    dependencies: tuple[tuple[Path, Stamp], ...] = ()
    # a file that failed is imported again on the next scan (its error may come from the
    # environment), except after a timeout: importing it again would only waste the time again
    reusable: bool = True

    def fresh(self, stamp: Stamp) -> bool:
        return (
            self.reusable
            and stamp == self.stamp
            and all(_stamp(dep) == known for dep, known in self.dependencies)
        )


@dataclass(frozen=True, slots=True)
class Discovery:
    """The flows found in a folder, the files that failed, and the per-file cache."""

    folder: Path
    flows: dict[str, FlowInfo]
    errors: list[LoadError]
    scanned_at: datetime
    files: dict[Path, FileScan] = dataclasses.field(default_factory=dict)
    imported: tuple[Path, ...] = ()  # the files this scan imported (the others were cached)


def flows_folder() -> Path:
    """The folder flows are discovered in: ``$PAUTA_FLOWS``, else ``./flows``."""
    return Path(os.environ.get(FOLDER_ENV) or DEFAULT_FOLDER).expanduser().absolute()


def flow_files(folder: Path) -> list[Path]:
    """The ``*.py`` files under ``folder``, sorted, skipping names that start with ``_`` or
    ``.`` (private helpers, ``__pycache__``, hidden folders), virtual environments, and folders
    that hold a Python project of their own (a ``pyproject.toml`` or ``setup.py``: a package
    such as a plugin, whose modules are imported by their package name, not as flow files)."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(("_", "."))
            and d not in SKIPPED_FOLDERS
            and not _own_project(Path(parent) / d)
        )
        found.extend(
            Path(parent) / f for f in files if f.endswith(".py") and not f.startswith(("_", "."))
        )
    return sorted(found)


def _own_project(path: Path) -> bool:
    return any((path / name).exists() for name in ("pyvenv.cfg", "pyproject.toml", "setup.py"))


def discover(
    folder: Path,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    previous: Discovery | None = None,
    parallel: int = PARALLEL,
    clock: Clock | None = None,
) -> Discovery:
    """Import every flow file of ``folder`` in its own process (``parallel`` at a time, each
    stopped after ``timeout`` seconds) and collect the flows they define.

    Files unchanged since ``previous`` are not imported again. When two files define the same
    flow name, the first file in path order keeps it and the second gets a ``LoadError``.
    Raises ``FlowLoadError`` when ``folder`` is not a folder.
    """
    root = Path(folder).expanduser().resolve()
    if not root.is_dir():
        raise FlowLoadError(
            f"the flows folder {root} does not exist; put flow files in ./flows, or point "
            f"{FOLDER_ENV} (or --flows) at the folder that holds them"
        )
    cache = previous.files if previous is not None and previous.folder == root else {}
    scans: dict[Path, FileScan] = {}
    todo: list[tuple[Path, Stamp]] = []
    for path in flow_files(root):
        stamp = _stamp(path)
        if stamp is None:  # removed while listing
            continue
        cached = cache.get(path)
        if cached is not None and cached.fresh(stamp):
            scans[path] = cached
        else:
            todo.append((path, stamp))
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(todo)))) as pool:
            for scan in pool.map(lambda item: import_file(*item, root, timeout), todo):
                scans[scan.path] = scan
    flows, errors = _combine(scans)
    return Discovery(
        folder=root,
        flows=flows,
        errors=errors,
        scanned_at=(clock or get_clock()).now(),
        files=dict(sorted(scans.items())),
        imported=tuple(path for path, _ in todo),
    )


def sync_to_store(discovery: Discovery, store: Store) -> int:
    """Record every discovered flow in the store (description, parameter schema, schedule,
    timezone, source file); a flow's ``paused`` flag is left as it is. Rows already up to date
    are not written. Returns how many flows were written."""
    known = {row["name"]: row for row in store.list_flows()}
    written = 0
    for info in discovery.flows.values():
        row = info.row()
        stored = known.get(info.name)
        if stored is not None and all(stored.get(k) == v for k, v in row.columns().items()):
            continue
        store.upsert_flow(row)
        written += 1
    return written


def _combine(scans: dict[Path, FileScan]) -> tuple[dict[str, FlowInfo], list[LoadError]]:
    flows: dict[str, FlowInfo] = {}
    errors: list[LoadError] = []
    for path in sorted(scans):
        scan = scans[path]
        errors.extend(scan.errors)
        for info in scan.flows:
            first = flows.get(info.name)
            if first is None:
                flows[info.name] = info
                continue
            where = f"{first.file}:{first.line}" if first.line else str(first.file)
            errors.append(
                LoadError(
                    info.file,
                    info.line,
                    f"flow name {info.name!r} is already defined in {where}; flow names must "
                    "be unique: rename one with @flow(name=...)",
                    "DuplicateFlowName",
                )
            )
    return dict(sorted(flows.items())), errors


def _stamp(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


# the parent side: one process per file ---------------------------------------------------------


def import_file(path: Path, stamp: Stamp, root: Path, timeout: float) -> FileScan:
    """Import one file in a fresh Python process and read what it defines."""
    env = dict(os.environ)
    # the child must import this very pauta, even when it is not installed
    source_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH")) if p)
    command = [sys.executable, "-c", _CHILD, str(path), str(root)]
    with (
        tempfile.TemporaryFile() as stderr,
        subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            start_new_session=os.name == "posix",
        ) as proc,
    ):
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            line = _line_in_dump(_tail(stderr), path.resolve())
            message = (
                f"importing the file took longer than {timeout:g} s and was stopped; a flow "
                "file should only define flows: move slow work (network calls, loading data) "
                "into tasks"
            )
            error = LoadError(path, line, message, "ImportTimeout")
            return FileScan(path, stamp, (), (error,), reusable=True)
        report = _parse_report(out)
        if proc.returncode != 0 or report is None:
            crash = _crash(path, proc.returncode, _tail(stderr))
            return FileScan(path, stamp, (), (crash,), reusable=False)
    flows = tuple(FlowInfo.from_dict(f) for f in report["flows"])
    errors = tuple(LoadError(path, e["line"], e["message"], e["kind"]) for e in report["errors"])
    deps = tuple((Path(p), (m, s)) for p, m, s in report["dependencies"])
    return FileScan(path, stamp, flows, errors, deps, reusable=not errors)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask the stuck child to print where it is (faulthandler), then kill it and its group."""
    if hasattr(signal, "SIGUSR1"):
        try:
            proc.send_signal(signal.SIGUSR1)
            proc.communicate(timeout=0.3)
        except subprocess.TimeoutExpired:
            pass
    try:
        if os.name == "posix":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except ProcessLookupError:
        pass
    proc.communicate()


def _tail(handle: Any) -> str:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - _STDERR_TAIL))
    return str(handle.read().decode(errors="replace"))


def _parse_report(out: bytes) -> dict[str, Any] | None:
    try:
        report = json.loads(out)
    except ValueError:
        return None
    return report if isinstance(report, dict) and "flows" in report else None


def _line_in_dump(text: str, path: Path) -> int | None:
    """The innermost line of ``path`` in a traceback or faulthandler dump."""
    frames = [
        (Path(m["file"]), int(m["line"]))
        for m in _FRAME.finditer(text)
        if Path(m["file"]).resolve() == path
    ]
    if not frames:
        return None
    # tracebacks list the innermost frame last, faulthandler dumps list it first
    return frames[0][1] if "most recent call first" in text else frames[-1][1]


def _crash(path: Path, code: int | None, stderr: str) -> LoadError:
    if code is not None and code < 0:
        try:
            how = f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"was killed by signal {-code}"
    else:
        how = f"exited with code {code}"
    last = next((ln.strip() for ln in reversed(stderr.splitlines()) if ln.strip()), "")
    message = (
        f"the import process {how} before reporting its flows (did the file call os._exit, "
        "or crash in C code?)"
    )
    if last:
        message += f"; its last output: {last[:300]}"
    return LoadError(path, _line_in_dump(stderr, path.resolve()), message, "ImportCrashed")


# the child side: runs in the import process ----------------------------------------------------


def child_main() -> None:
    """Entry of the import process: ``-c child_main() FILE ROOT``; the report is printed as JSON
    on stdout, and anything the file prints goes to stderr instead."""
    import faulthandler

    path, root = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    report_fd = os.dup(1)
    os.dup2(2, 1)
    faulthandler.enable()
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    report = scan_file(path, root)
    with os.fdopen(report_fd, "w") as out:
        json.dump(report, out, default=str)
    sys.stdout.flush()
    sys.stderr.flush()
    # skip atexit hooks and threads the file may have started: they must not hold us up
    os._exit(0)


def scan_file(path: Path, root: Path) -> dict[str, Any]:
    """Import ``path`` in this process; its flows, errors and sibling dependencies as JSON."""
    try:
        module = load_file(path)
    except FlowLoadError as exc:
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        return {
            "flows": [],
            "errors": [_import_error(path, cause)],
            "dependencies": _dependencies(root, path, cause),
        }
    flows: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for value in vars(module).values():
        if not isinstance(value, Flow) or value.fn.__module__ != module.__name__:
            continue  # flows imported from elsewhere belong to their own file
        if value.name in seen:
            continue
        seen.add(value.name)
        try:
            flows.append(_flow_info(value, path).to_dict())
        except PautaError as exc:
            line = value.fn.__code__.co_firstlineno
            errors.append({"line": line, "message": str(exc), "kind": type(exc).__name__})
    return {"flows": flows, "errors": errors, "dependencies": _dependencies(root, path, None)}


def _flow_info(value: Flow[Any, Any], path: Path) -> FlowInfo:
    options = value.options
    parameters = tuple(
        ParameterInfo(p.name, p.type_name, None if p.required else _jsonable(p.default), p.required)
        for p in value.parameters.parameters
    )
    row = FlowRow.of(value, str(path))
    return FlowInfo(
        name=row.name,
        qualname=value.fn.__qualname__,
        file=path,
        line=value.fn.__code__.co_firstlineno,
        description=row.description,
        schedule=row.schedule,
        timezone=row.timezone,
        tags=tuple(str(t) for t in options.tags),
        parameters=parameters,
        parameters_schema=row.parameters_schema,
        start=options.start.isoformat() if options.start else None,
        end=options.end.isoformat() if options.end else None,
        catchup=options.catchup,
        max_active_runs=row.max_active_runs,
        schedule_spec=schedule_spec(options.schedule, today=get_clock().now().date()),
        priority=options.priority,
        triggers=tuple(trigger_spec(t) for t in options.triggers),
        deadline=options.deadline.spec() if options.deadline else None,
    )


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return str(value)
    return value


def _import_error(path: Path, exc: BaseException) -> dict[str, Any]:
    kind = type(exc).__name__
    line = _line_of(path, exc)
    if isinstance(exc, SyntaxError):
        source = Path(exc.filename).resolve() if exc.filename else path
        message = f"syntax error: {exc.msg}"
        if source != path:
            message = f"syntax error in {source}:{exc.lineno}: {exc.msg}"
    elif isinstance(exc, SystemExit):
        message = (
            f"the file called sys.exit({exc.code!r}) while being imported; a flow file must "
            'only define flows: put script code under `if __name__ == "__main__":`'
        )
    elif isinstance(exc, FlowLoadError) and exc.__cause__ is None:
        message = str(exc)
    else:
        message = f"importing the file raised {kind}: {exc}"
    return {"line": line, "message": message, "kind": kind}


def _line_of(path: Path, exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename and Path(exc.filename).resolve() == path:
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _dependencies(root: Path, path: Path, exc: BaseException | None) -> list[list[Any]]:
    """Files under ``root`` (other than ``path``) the import used, with their stamps: the
    modules it imported, and on failure the files in the traceback."""
    files = {
        Path(module.__file__).resolve()
        for module in list(sys.modules.values())
        if getattr(module, "__file__", None)
    }
    if exc is not None:
        if isinstance(exc, SyntaxError) and exc.filename:
            files.add(Path(exc.filename).resolve())
        tb = exc.__traceback__
        while tb is not None:
            files.add(Path(tb.tb_frame.f_code.co_filename).resolve())
            tb = tb.tb_next
    found = []
    for file in sorted(files):
        stamp = _stamp(file)
        if file != path and file.is_relative_to(root) and stamp is not None:
            found.append([str(file), *stamp])
    return found
