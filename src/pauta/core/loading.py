"""Import user code by file path under a stable module name.

A flow file is loaded as ``pauta_flows.<stem>_<hash>`` (never ``__main__``), the hash taken from
its absolute path, so every process that loads the same file gets the same module name and a
task can be sent to a worker by reference (module + qualified name).

Its cached bytecode is checked against a hash of the source (PEP 552), not the file's
modification time: Python's default keeps the time in whole seconds beside the size, so a flow
file rewritten within the second at the same size would run its old code, while pauta's code
fingerprint (taken from the source) already said it changed.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import marshal
import sys
import threading
from pathlib import Path
from types import CodeType, ModuleType

from pauta.core.errors import FlowLoadError

_lock = threading.RLock()
PACKAGE = "pauta_flows"


def module_name_for(path: str | Path) -> str:
    """The module name pauta gives the file at ``path``."""
    import hashlib  # here: a worker process is told the name and never needs it

    resolved = Path(path).resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    stem = "".join(ch if ch.isalnum() else "_" for ch in resolved.stem)
    return f"{PACKAGE}.{stem}_{digest}"


_CHECKED_HASH = (0b11).to_bytes(4, "little")  # PEP 552 flags: hash-based, checked on load


class _HashCheckedLoader(importlib.machinery.SourceFileLoader):
    """A source loader whose bytecode cache is valid only for the source it was compiled from."""

    def get_code(self, fullname: str) -> CodeType:
        source_path = self.get_filename(fullname)
        source = self.get_data(source_path)
        key = importlib.util.source_hash(source)
        cache_path = importlib.util.cache_from_source(source_path)
        header = importlib.util.MAGIC_NUMBER + _CHECKED_HASH + key
        try:
            cached = self.get_data(cache_path)
        except OSError:
            cached = b""
        if cached[:16] == header:
            try:
                return marshal.loads(memoryview(cached)[16:])
            except (EOFError, ValueError, TypeError):
                pass  # a damaged cache: compiled again below
        code = compile(source, source_path, "exec", dont_inherit=True)
        if not sys.dont_write_bytecode:
            self.set_data(cache_path, header + marshal.dumps(code))
        return code


def _ensure_package() -> None:
    if PACKAGE not in sys.modules:
        package = ModuleType(PACKAGE)
        package.__path__ = []
        sys.modules[PACKAGE] = package


def load_file(path: str | Path, module_name: str | None = None) -> ModuleType:
    """Import the Python file at ``path`` (once per process) and return its module.

    The file's folder is put on ``sys.path`` first, as when running it as a script, so it can
    import its neighbours. Errors become ``FlowLoadError`` naming the file and line.
    """
    resolved = Path(path).resolve()
    if not resolved.is_file():
        raise FlowLoadError(f"flow file not found: {path}")
    name = module_name or module_name_for(resolved)
    with _lock:
        existing = sys.modules.get(name)
        if existing is not None:
            return existing
        _ensure_package()
        folder = str(resolved.parent)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(
            name, resolved, loader=_HashCheckedLoader(name, str(resolved))
        )
        if spec is None or spec.loader is None:
            raise FlowLoadError(f"cannot import {resolved}: not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(name, None)
            raise FlowLoadError(_describe_import_error(resolved, exc)) from exc
        return module


def _describe_import_error(path: Path, exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        return f"{exc.filename or path}:{exc.lineno}: syntax error: {exc.msg}"
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path:
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f"{path}:{line}" if line else str(path)
    return f"{where}: importing the flow file raised {type(exc).__name__}: {exc}"
