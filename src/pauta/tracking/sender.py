"""The thread that ships the MLflow outbox, started by whatever drives runs (``pauta run``, a
script calling a flow, ``pauta worker``, ``pauta server``).

It never holds a run back: runs only write outbox rows. While MLflow cannot be reached, each
run with items waiting gets one warning line in its flow log (not one per item), and the
sender waits ``mlflow_retry_seconds``, doubling up to a minute (or 16 times the first wait).
What it could not send stays in the outbox, for this process later or any other that mirrors
the same store.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Protocol

from pauta.core.secrets import mask
from pauta.core.settings import Settings

if TYPE_CHECKING:
    from pathlib import Path

    from pauta.store.outbox import OutboxItem
    from pauta.store.repository import Store

log = logging.getLogger("pauta.mlflow")

_MAX_BACKOFF = 60.0
_POLL = 0.2
_FLOW_LOG = "flow.log"


class Sends(Protocol):
    def send(self, items: list[OutboxItem]) -> None: ...


def _open_mirror(store: Store, settings: Settings) -> Sends:
    # imported here: only a process that mirrors loads MLflow
    from pauta.tracking.mirror import Mirror

    assert settings.mlflow_tracking_uri is not None
    return Mirror(store, settings.mlflow_tracking_uri)


def note_in_run_log(logs_dir: Path, run_id: str, line: str) -> None:
    """Append a line to a run's flow log (the run may have ended; the log stays its own)."""
    folder = logs_dir / run_id
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(folder / _FLOW_LOG, "a", encoding="utf-8") as handle:
            handle.write(line.rstrip("\n") + "\n")
    except OSError:
        log.warning("cannot write to the log of run %s: %s", run_id, line)


class OutboxSender:
    """Ships a store's outbox to MLflow in order, on a thread of its own."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._mirror: Sends | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._draining = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()
        self._backoff = settings.mlflow_retry_seconds
        # doubling stops at a minute, or sooner when the first wait is short (tests)
        self._max_backoff = min(_MAX_BACKOFF, 16 * settings.mlflow_retry_seconds)

    def start(self) -> OutboxSender:
        self._thread = threading.Thread(target=self._loop, name="pauta-mlflow", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, drain_seconds: float = 5.0) -> None:
        """Stop once what is waiting is sent, MLflow fails to answer, or ``drain_seconds``
        passed: what is left stays in the outbox for a later process."""
        if self._thread is None:
            return
        self._draining.set()
        self._wake.set()
        self._thread.join(drain_seconds)
        self._stop.set()
        self._wake.set()
        self._thread.join(drain_seconds)
        self._thread = None

    def send_waiting(self) -> bool:
        """Send everything in the outbox now; False when MLflow could not be reached."""
        while True:
            items = self.store.outbox_items()
            if not items:
                return True
            if not self._send(items):
                return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                items = self.store.outbox_items()
            except Exception:
                log.exception("cannot read the MLflow outbox; will retry")
                items = []
            if not items:
                if self._draining.is_set():
                    return
                self._wake.wait(_POLL)
                self._wake.clear()
                continue
            if self._send(items):
                self._backoff = self.settings.mlflow_retry_seconds
                continue
            # stopping: no wait for MLflow to come back; the outbox keeps the rest
            if self._draining.is_set() or self._stop.wait(self._backoff):
                return
            self._backoff = min(self._backoff * 2, self._max_backoff)

    def _send(self, items: list[OutboxItem]) -> bool:
        """Send a batch; False on an outage (after one warning per run in its log)."""
        from_refusal = False
        try:
            if self._mirror is None:
                self._mirror = _open_mirror(self.store, self.settings)
            self._mirror.send(items)
        except Exception as exc:
            if _is_refusal(exc):
                from_refusal = True
                log.warning("MLflow refused an item: %s", mask(str(exc)))
                note_in_run_log(
                    self.settings.logs_dir,
                    items[0].flow_run_id,
                    f"WARNING MLflow refused an item, which is dropped: {mask(str(exc))}",
                )
            else:
                self._outage(items, exc)
                return False
        if not from_refusal:
            self._recovered()
        return True

    def _outage(self, items: list[OutboxItem], exc: BaseException) -> None:
        reason = mask(_short(exc))
        for run_id in dict.fromkeys(item.flow_run_id for item in items):
            if run_id in self._warned:
                continue
            self._warned.add(run_id)
            note_in_run_log(
                self.settings.logs_dir,
                run_id,
                f"WARNING MLflow at {self.settings.mlflow_tracking_uri} cannot be reached "
                f"({reason}); the run goes on and its metrics, params and artifacts are kept "
                "in the outbox until MLflow is back",
            )
        if not self._warned.isdisjoint(item.flow_run_id for item in items):
            log.warning("MLflow cannot be reached: %s; retrying in %.1f s", reason, self._backoff)

    def _recovered(self) -> None:
        for run_id in self._warned:
            note_in_run_log(
                self.settings.logs_dir, run_id, "INFO MLflow is reachable again; sending the rest"
            )
        self._warned.clear()


def _is_refusal(exc: BaseException) -> bool:
    if isinstance(exc, ImportError):
        return False
    from pauta.tracking.mirror import Refused

    return isinstance(exc, Refused)


def _short(exc: BaseException) -> str:
    if isinstance(exc, ImportError):
        return "MLflow's client is not installed here: pip install 'pauta[mlflow]'"
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def start_sender(store: Store, settings: Settings) -> OutboxSender | None:
    """A running sender for ``store`` when ``PAUTA_MLFLOW_TRACKING_URI`` is set, else None."""
    if settings.mlflow_tracking_uri is None:
        return None
    return OutboxSender(store, settings).start()
