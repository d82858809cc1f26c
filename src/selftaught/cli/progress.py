"""Progress of long STOP work on stderr (so --json and programs on stdout stay clean).

On a terminal: rich bars, one per level (iteration, candidate, test, ...). Off a terminal (a pipe, a
log file, CI) a live bar shows nothing useful — only its last frame survives — so a plain line is
written every few seconds instead: `progress: iteration 2/4 | candidate 7/25 | ... | best val ...`.

Totals end at 100%: a level can finish early (an improver that spends 14 of its 25 utility calls),
so when its parent advances, or the work ends, its total becomes what was actually done. Work that ends
without finishing (a failed or stopped run, Ctrl-C) keeps its counts as they were and says how it ended
(`iteration 1/3 | candidate 4/25 | test 2/5 | run failed`), so the last line agrees with `runs` and the
report (1 of 3 self-improvement steps done) instead of reading as a finished run.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from selftaught.cli.output import is_terminal

STAGE_ORDER = ("run", "iteration", "candidate", "test", "transfer", "attempts", "execute")
DEFAULT_INTERVAL = 5.0


@dataclass
class _Stage:
    total: int | None
    done: int = 0


def _finish(stage: _Stage) -> None:
    if stage.total is None or stage.done < stage.total:
        stage.total = stage.done


def _below(name: str, other: str) -> bool:
    """Is `other` a finer level than `name` (e.g. candidate below iteration)?"""
    order = {stage: i for i, stage in enumerate(STAGE_ORDER)}
    return order.get(other, len(order)) > order.get(name, len(order))


class Tracker:
    """Stage counts and the latest summary, shared by both renderings (thread-safe)."""

    def __init__(self) -> None:
        self.stages: dict[str, _Stage] = {}
        self.note = ""
        self.ending: str | None = None  # how unfinished work ended ("run failed"); None: it finished
        self.lock = threading.Lock()

    def stage(self, name: str, total: int | None) -> None:
        with self.lock:
            self.stages[name] = _Stage(total)

    def advance(self, name: str, amount: int = 1) -> list[str]:
        """Count progress; returns the finer levels that were closed (their totals set to what was done)."""
        with self.lock:
            stage = self.stages.setdefault(name, _Stage(None))
            stage.done += amount
            if stage.total is not None and stage.done > stage.total:
                stage.total = stage.done  # more work than announced (or after its level was closed)
            closed = [other for other in self.stages if _below(name, other)]
            for other in closed:
                _finish(self.stages[other])
            return closed

    def finish_all(self) -> None:
        with self.lock:
            for stage in self.stages.values():
                _finish(stage)

    def close(self, exc_type: type[BaseException] | None) -> None:
        """At the end: totals become what was done only when the work finished; otherwise the counts stay
        where the work stopped and the line says why."""
        if exc_type is not None and self.ending is None:
            self.ending = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        if self.ending is None:
            self.finish_all()

    def line(self) -> str:
        with self.lock:
            parts = [
                f"{name} {stage.done}/{stage.total if stage.total is not None else '?'}"
                for name, stage in sorted(self.stages.items(), key=lambda item: _rank(item[0]))
                if stage.done or stage.total != 0  # a level closed with nothing done says nothing
            ]
            if self.note:
                parts.append(self.note)
            if self.ending:
                parts.append(self.ending)
        return "progress: " + " | ".join(parts)


def _rank(name: str) -> int:
    return STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER)


class PlainProgress:
    """A plain line on stderr every `interval` seconds while work goes on, and one at the end."""

    def __init__(self, interval: float | None = None) -> None:
        env = os.environ.get("SELFTAUGHT_PROGRESS_SECONDS")
        self.interval = interval if interval is not None else float(env) if env else DEFAULT_INTERVAL
        self.tracker = Tracker()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = ""

    def __enter__(self) -> PlainProgress:
        self._thread = threading.Thread(target=self._loop, name="progress-lines", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.tracker.close(exc_type)
        if self.tracker.stages:
            self._write(force=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._write(force=False)

    def _write(self, *, force: bool) -> None:
        if not self.tracker.stages:
            return  # nothing has started yet
        line = self.tracker.line()
        if force or line != self._last:
            self._last = line
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def stage(self, name: str, total: int | None) -> None:
        self.tracker.stage(name, total)

    def advance(self, name: str, amount: int = 1) -> None:
        self.tracker.advance(name, amount)

    def summary(self, text: str) -> None:
        self.tracker.note = text

    def ended(self, how: str) -> None:
        """The work returned without finishing (e.g. "run failed"): keep the counts, say so."""
        self.tracker.ending = how


class RichProgress:
    """One rich bar per level plus a live summary line (terminal only; rich imported here)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.tracker = Tracker()
        self._progress = Progress(
            TextColumn("[bold]{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
            console=Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.tracker.close(exc_type)
        for name in list(self._tasks):
            self._sync(name)
        if self.tracker.ending:
            self.summary(
                f"{self.tracker.note} | {self.tracker.ending}" if self.tracker.note else self.tracker.ending
            )
        self._progress.stop()

    def _sync(self, name: str) -> None:
        stage = self.tracker.stages.get(name)
        task = self._tasks.get(name)
        if stage is not None and task is not None:
            # A level closed with nothing done says nothing (as on the plain line): no "0/0" bar.
            shown = bool(stage.done or stage.total != 0)
            self._progress.update(task, total=stage.total, completed=stage.done, visible=shown)

    def stage(self, name: str, total: int | None) -> None:
        self.tracker.stage(name, total)
        with self._lock:
            if name not in self._tasks:
                self._tasks[name] = self._progress.add_task(name, total=total, note="")
            else:
                self._progress.reset(self._tasks[name], total=total, note="")

    def advance(self, name: str, amount: int = 1) -> None:
        closed = self.tracker.advance(name, amount)
        with self._lock:
            for other in [name, *closed]:
                self._sync(other)

    def summary(self, text: str) -> None:
        self.tracker.note = text
        with self._lock:
            task = self._tasks.get("iteration") or next(iter(self._tasks.values()), None)
        if task is not None:
            self._progress.update(task, note=text)

    def ended(self, how: str) -> None:
        """The work returned without finishing (e.g. "run failed"): keep the counts, say so."""
        self.tracker.ending = how


def progress_display(*, interval: float | None = None) -> RichProgress | PlainProgress:
    """Bars on a terminal, plain lines in a pipe or log."""
    return RichProgress() if is_terminal(sys.stderr) else PlainProgress(interval)
