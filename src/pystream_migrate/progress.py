"""Progress on stderr: overall bytes and rows with rate and ETA, and each worker's entry.

Three displays share one interface:
- ``rich``: a live display when stderr is a terminal (the rich library draws it);
- ``plain``: a line every few seconds, for logs and pipes;
- ``json``: one JSON object per line, for automation (``--progress=json``).
``none`` prints nothing. All of them are safe to call from worker threads.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import IO, Any

PLAIN_INTERVAL = 5.0
JSON_INTERVAL = 1.0


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class Progress:
    """The interface, and the 'none' display."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.lock = threading.Lock()
        self.phase_name = ""
        self.total_bytes = 0
        self.total_entries = 0
        self.bytes = 0
        self.rows = 0
        self.entries_done = 0
        self.started = time.monotonic()
        self.workers: dict[str, str] = {}
        self.failed = False

    # Called by dump and restore.
    def phase(self, name: str, *, total_bytes: int = 0, total_entries: int = 0) -> None:
        if self.phase_name:
            self._on_phase_end()
        with self.lock:
            self.phase_name = name
            self.total_bytes = max(0, total_bytes)
            self.total_entries = total_entries
            self.bytes = self.rows = self.entries_done = 0
            self.started = time.monotonic()
            self.workers.clear()
        self._on_phase()

    def start_entry(self, worker: str, label: str) -> None:
        with self.lock:
            self.workers[worker] = label
        self._on_change()

    def advance(self, nbytes: int) -> None:
        with self.lock:
            self.bytes += nbytes
        self._on_change()

    def finish_entry(self, worker: str, rows: int) -> None:
        with self.lock:
            self.rows += rows
            self.entries_done += 1
            self.workers.pop(worker, None)
        self._on_change()

    def close(self, *, failed: bool = False) -> None:
        """End the display; a failed run's last phase ends as "stopped", not "done"."""
        self.failed = failed
        if self.phase_name:
            self._on_phase_end()
        self._on_close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: object, *_exc: object) -> None:
        self.close(failed=exc_type is not None)

    # Snapshot of the numbers, for the displays.
    def snapshot(self, *, ended: bool = False) -> dict[str, Any]:
        """The numbers; totals are estimates, so they never read less than what was done.

        Once a phase has ended (``ended``), the totals are what was done.
        """
        with self.lock:
            elapsed = max(time.monotonic() - self.started, 1e-6)
            rate = self.bytes / elapsed
            eta = None
            if self.total_bytes and rate > 0 and self.bytes < self.total_bytes:
                eta = (self.total_bytes - self.bytes) / rate
            total_bytes = max(self.total_bytes, self.bytes) if self.total_bytes else 0
            total_entries = max(self.total_entries, self.entries_done)
            if ended and not self.failed:
                total_bytes = self.bytes if self.total_bytes else 0
                total_entries, eta = self.entries_done, None
            return {
                "phase": self.phase_name,
                "bytes": self.bytes,
                "total_bytes": total_bytes,
                "rows": self.rows,
                "entries_done": self.entries_done,
                "total_entries": total_entries,
                "bytes_per_second": round(rate),
                "eta_seconds": None if eta is None else round(eta, 1),
                "elapsed_seconds": round(elapsed, 1),
                "workers": dict(self.workers),
            }

    # Hooks for the displays.
    def _on_phase(self) -> None: ...
    def _on_change(self) -> None: ...
    def _on_phase_end(self) -> None: ...
    def _on_close(self) -> None: ...


class PlainProgress(Progress):
    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._last = 0.0

    def _line(self, *, ended: bool = False) -> str:
        s = self.snapshot(ended=ended)
        done = ended and not self.failed
        pct = total = ""
        if s["total_bytes"] and not done:
            # An estimate: never 100% (nor more) before the phase is over.
            pct = f"{min(99, 100 * s['bytes'] // s['total_bytes'])}% "
            total = f" of ~{_human(s['total_bytes'])}"
        eta = f", ETA {s['eta_seconds']:.0f}s" if s["eta_seconds"] is not None else ""
        busy = "; ".join(s["workers"].values())
        if not s["bytes"] and not s["total_bytes"]:  # DDL: entries are what counts
            return (f"pystream-migrate: {s['phase']}: {s['entries_done']}/{s['total_entries']} "
                    "entries" + (f" [{busy}]" if busy else ""))
        return (f"pystream-migrate: {s['phase']}: {pct}{_human(s['bytes'])}{total}, "
                f"{s['rows']} rows, {s['entries_done']}/{s['total_entries']} entries, "
                f"{_human(s['bytes_per_second'])}/s{eta}" + (f" [{busy}]" if busy else ""))

    def _on_phase(self) -> None:
        self._last = time.monotonic()

    def _on_change(self) -> None:
        now = time.monotonic()
        if now - self._last >= PLAIN_INTERVAL:
            self._last = now
            print(self._line(), file=self.stream, flush=True)

    def _on_phase_end(self) -> None:
        end = "stopped" if self.failed else "done"
        print(f"{self._line(ended=True)}, {end}", file=self.stream, flush=True)


class JsonProgress(Progress):
    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._last = 0.0

    def _emit(self, event: str, *, ended: bool = False) -> None:
        print(json.dumps({"event": event, **self.snapshot(ended=ended)}), file=self.stream,
              flush=True)

    def _on_phase(self) -> None:
        self._last = time.monotonic()
        self._emit("phase")

    def _on_change(self) -> None:
        now = time.monotonic()
        if now - self._last >= JSON_INTERVAL:
            self._last = now
            self._emit("progress")

    def _on_phase_end(self) -> None:
        self._emit("stopped" if self.failed else "done", ended=True)


class RichProgress(Progress):
    """A live display: one overall bar, one line per busy worker."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )
        from rich.progress import Progress as RichBar

        self._bar = RichBar(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(binary_units=True),
            TransferSpeedColumn(),
            TextColumn("{task.fields[rows]} rows"),
            TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=False,
            refresh_per_second=4,
        )
        self._task: Any = None
        self._worker_tasks: dict[str, Any] = {}
        self._bar.start()

    def _on_phase(self) -> None:
        for t in self._worker_tasks.values():
            self._bar.remove_task(t)
        self._worker_tasks.clear()
        if self._task is not None:
            self._bar.update(self._task, completed=self._bar.tasks[0].total or 0)
        self._task = self._bar.add_task(self.phase_name, total=self.total_bytes or None,
                                        rows=0)

    def _on_change(self) -> None:
        s = self.snapshot()
        if self._task is not None:
            self._bar.update(self._task, completed=s["bytes"], rows=s["rows"],
                             total=s["total_bytes"] or None)
        for worker in list(self._worker_tasks):
            if worker not in s["workers"]:
                self._bar.remove_task(self._worker_tasks.pop(worker))
        for worker, label in s["workers"].items():
            task = self._worker_tasks.get(worker)
            text = f"  {worker}: {label}"
            if task is None:
                self._worker_tasks[worker] = self._bar.add_task(
                    text, total=None, rows="", start=False)
            else:
                self._bar.update(task, description=text)

    def _on_close(self) -> None:
        for t in self._worker_tasks.values():
            self._bar.remove_task(t)
        self._worker_tasks.clear()
        if self._task is not None and self.total_bytes and not self.failed:
            self._bar.update(self._task, completed=max(self.bytes, self.total_bytes))
        self._bar.stop()


def make_progress(mode: str, stream: IO[str] | None = None) -> Progress:
    """``auto`` is the live display on a terminal and plain lines elsewhere."""
    stream = stream or sys.stderr
    if mode == "auto":
        mode = "rich" if stream.isatty() else "plain"
    if mode == "rich":
        return RichProgress(stream)
    if mode == "plain":
        return PlainProgress(stream)
    if mode == "json":
        return JsonProgress(stream)
    return Progress(stream)
