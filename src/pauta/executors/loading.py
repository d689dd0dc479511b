"""Sending task functions to workers, and finding them again there.

A function travels by reference (module + qualified name, plus the file path when pauta loaded
the module from a file) whenever the worker can import it, so a warm worker imports each flow
module once and keeps it. Closures, lambdas and other functions that cannot be looked up by
name travel as cloudpickle bytes instead.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from pauta.core.errors import FlowLoadError
from pauta.core.loading import PACKAGE, load_file, module_name_for
from pauta.executors.base import TaskRef

_cache: dict[str, Callable[..., Any]] = {}
_cache_lock = threading.Lock()
# Pickled closures are cached too; past this many entries the cache starts over, so a long
# lived worker that sees many distinct closures does not grow without bound.
_CACHE_MAX = 4096


def _unwrap(fn: Any) -> Any:
    """The plain function behind a pauta ``Task`` (which keeps it at ``.fn``)."""
    inner = getattr(fn, "fn", None)
    if inner is not None and callable(inner) and not _is_function(fn):
        return inner
    return fn


def _is_function(obj: Any) -> bool:
    return hasattr(obj, "__code__") or type(obj).__name__ == "builtin_function_or_method"


def _lookup(module: ModuleType, qualname: str) -> Any:
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


def _main_path(module: ModuleType) -> str | None:
    path = getattr(module, "__file__", None)
    return str(path) if path else None


def _file_of(raw: Any) -> str | None:
    """The file a plain function's code was loaded from (None: not a function, or no file)."""
    code = getattr(raw, "__code__", None)
    file = getattr(code, "co_filename", "")
    return file if file and os.path.isfile(file) else None


def task_ref_for(fn: Callable[..., Any]) -> TaskRef:
    """How a worker process will find ``fn`` (a function or a pauta ``Task``)."""
    raw = _unwrap(fn)
    module_name = getattr(raw, "__module__", None) or ""
    qualname = getattr(raw, "__qualname__", None) or ""
    module = sys.modules.get(module_name)
    path: str | None = None
    if (
        module is None
        and module_name.startswith(PACKAGE + ".")
        and qualname
        and "<" not in qualname
    ):
        # A flow file's module taken out of sys.modules (a cleanup that drops modules by
        # prefix): its name is derived from its file, so the file it came from still names
        # it, and the task travels by reference rather than by value.
        file = _file_of(raw)
        if file is not None and module_name_for(file) == module_name:
            token = f"ref:{module_name}:{qualname}:{file}"
            return TaskRef(module=module_name, qualname=qualname, path=file, token=token)
    if module is not None and (
        module_name.startswith(PACKAGE + ".") or module_name in ("__main__", "__mp_main__")
    ):
        path = _main_path(module)
        if module_name == "__mp_main__":
            module_name = "__main__"
    importable = (
        module is not None
        and qualname
        and "<" not in qualname
        and (path is not None or not module_name.startswith(PACKAGE + "."))
        and (path is not None or module_name != "__main__")
    )
    if importable:
        try:
            found = _lookup(module, qualname)  # type: ignore[arg-type]
        except AttributeError:
            found = None
        if found is raw or getattr(found, "fn", None) is raw:
            token = f"ref:{module_name}:{qualname}:{path or ''}"
            return TaskRef(module=module_name, qualname=qualname, path=path, token=token)
    import cloudpickle

    pickled = cloudpickle.dumps(raw, protocol=5)
    import hashlib  # here: worker processes that import tasks by name never need it

    token = "pickle:" + hashlib.sha1(pickled).hexdigest()
    # module and path still travel: the worker imports the flow file first, so whatever the
    # closure refers to by reference in that module resolves.
    return TaskRef(module=module_name, qualname=qualname, path=path, pickled=pickled, token=token)


def resolve(ref: TaskRef) -> Callable[..., Any]:
    """The function a ``TaskRef`` names, imported (or unpickled) once per process."""
    key = ref.token or f"{ref.module}:{ref.qualname}:{ref.path}:{hash(ref.pickled)}"
    fn = _cache.get(key)
    if fn is not None:
        return fn
    fn = _unwrap(_load(ref))
    if not callable(fn):
        raise FlowLoadError(f"{ref.module}.{ref.qualname} is not callable")
    with _cache_lock:
        if len(_cache) >= _CACHE_MAX:
            _cache.clear()
        _cache[key] = fn
    return fn


def _load(ref: TaskRef) -> Any:
    if ref.pickled is not None:
        if ref.path and ref.module.startswith(PACKAGE + "."):
            load_file(ref.path, ref.module)
        import cloudpickle

        return cloudpickle.loads(ref.pickled)
    if ref.module == "__main__":
        return _load_main(ref)
    module = load_file(ref.path, ref.module) if ref.path else importlib.import_module(ref.module)
    try:
        return _lookup(module, ref.qualname)
    except AttributeError:
        raise FlowLoadError(
            f"{ref.module} has no attribute {ref.qualname!r}: the task cannot be found "
            f"(was the file changed since the run started?)"
        ) from None


_importing_main = False


def _is_file_of(module: ModuleType | None, path: str) -> bool:
    file = getattr(module, "__file__", None)
    return file is not None and os.path.realpath(file) == os.path.realpath(path)


def refuse_while_importing_main(what: str) -> None:
    """Raise when a worker is importing the driver's main script and its top-level code
    tries to ``what`` (start a pool, run a flow): without an ``if __name__ == "__main__":``
    guard, every worker would start workers of its own."""
    if _importing_main:
        raise FlowLoadError(
            f"the main script tried to {what} while a pauta worker imported it to find a "
            "task: keep the script's top-level code under `if __name__ == '__main__':`"
        )


def _load_main(ref: TaskRef) -> Any:
    # A task defined in the driver's main script: the worker imports that script once, as
    # ``__mp_main__`` aliased as ``__main__`` (as multiprocessing's spawn does), so its
    # top-level code under `if __name__ == "__main__":` does not run. Tasks defined under
    # that guard are not there; the file is then loaded by path under another name.
    global _importing_main
    main = sys.modules.get("__main__")
    if ref.path and not _is_file_of(main, ref.path):
        # Importing multiprocessing aliases ``__mp_main__`` to this process's own __main__.
        if not _is_file_of(sys.modules.get("__mp_main__"), ref.path):
            sys.modules.pop("__mp_main__", None)
        _importing_main = True
        try:
            main = load_file(ref.path, "__mp_main__")
        finally:
            _importing_main = False
        sys.modules["__main__"] = main
    if main is not None:
        try:
            return _lookup(main, ref.qualname)
        except AttributeError:
            pass
    if ref.path:
        import hashlib

        digest = hashlib.sha1(ref.path.encode()).hexdigest()[:10]
        module = load_file(ref.path, f"_pauta_main_{digest}")
        try:
            return _lookup(module, ref.qualname)
        except AttributeError:
            pass
    raise FlowLoadError(
        f"cannot find task {ref.qualname!r} of the main script {ref.path or '(no file)'} in a "
        f"worker process: define tasks at the top level of the file, outside "
        f"`if __name__ == '__main__':`"
    )
