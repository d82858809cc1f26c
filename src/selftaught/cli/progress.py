"""Rich progress bars for the `Progress` callbacks of long STOP work (on stderr, so --json stays clean)."""

from __future__ import annotations

import threading
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

STAGE_ORDER = ("iteration", "candidate", "test", "transfer")


class RichProgress:
    """One bar per level (iteration, candidate, test, ...) plus a live summary line."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.console = Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=self.console,
            disable=not enabled,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._progress.stop()

    def stage(self, name: str, total: int | None) -> None:
        with self._lock:
            if name not in self._tasks:
                self._tasks[name] = self._progress.add_task(name, total=total, note="")
            else:
                self._progress.reset(self._tasks[name], total=total, note="")

    def advance(self, name: str, amount: int = 1) -> None:
        with self._lock:
            task = self._tasks.get(name)
        if task is not None:
            self._progress.advance(task, amount)

    def summary(self, text: str) -> None:
        with self._lock:
            task = self._tasks.get("iteration") or next(iter(self._tasks.values()), None)
        if task is not None:
            self._progress.update(task, note=text)
