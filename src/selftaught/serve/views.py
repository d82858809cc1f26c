"""The runs the live view shows: loaded with the report's own loader, cached until their store changes.

Why a cache keyed by the store's file stamps: a page polls every second or so, and a run's store only
changes when the run commits (each commit appends to `run.sqlite-wal`, or rewrites `run.sqlite` after
a checkpoint). Comparing (mtime, size) of those files costs two `stat` calls, so a poll of an unchanged
run reads nothing; a changed run is read once through `RunReader` (read-only, WAL: the writing run is
neither locked nor slowed) and rendered once, whatever the number of viewers. Rendering is serialised:
matplotlib's pyplot is not thread-safe.

Why a pause between reloads: a run commits many times a second (every LM call is a row), and reading
and drawing a run's page costs CPU the run would otherwise have. A run is read again only once
`max(MIN_PAUSE, PAUSE_FACTOR x what the last read and render cost)` has passed since its last read, so
watching a run takes at most about a fifth of one core, whatever the run's commit rate; until then a
page gets the newest body already drawn (and asks again on its next poll).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.report.aggregate import group_summary
from selftaught.report.load import load_run_summary
from selftaught.report.model import GroupSummary, RunSummary
from selftaught.serve.guard import run_directory, valid_run_id
from selftaught.store import STORE_FILE

_STAMPED = (STORE_FILE, STORE_FILE + "-wal")
MIN_PAUSE = 1.0
PAUSE_FACTOR = 4.0


def stamp(path: Path) -> str:
    """A version of the run at `path`: changes whenever the run commits anything."""
    parts = []
    for name in _STAMPED:
        try:
            info = (path / name).stat()
        except OSError:
            info = None
        # An empty WAL holds nothing (a read-only open of a finished run creates one): same as none.
        parts.append("-" if info is None or info.st_size == 0 else f"{info.st_mtime_ns:x}.{info.st_size:x}")
    return "_".join(parts)


@dataclass
class _Entry:
    version: str
    summary: RunSummary | None
    error: str | None
    loaded_at: float
    cost: float  # seconds spent reading the store, plus rendering its pages
    rendered: dict[str, str] = field(default_factory=dict)

    def fresh_enough(self, now: float) -> bool:
        return now - self.loaded_at < max(MIN_PAUSE, PAUSE_FACTOR * self.cost)


class RunsView:
    """Read-only, cached access to the runs under one directory (thread-safe)."""

    def __init__(self, runs_dir: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.runs_dir = Path(runs_dir)
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._groups: dict[str, tuple[str, str]] = {}  # group id -> (version, rendered body)
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()

    def run_ids(self) -> list[str]:
        """Every run directory (with a store) under the runs directory, oldest first (ids sort by time)."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(
            path.name
            for path in self.runs_dir.iterdir()
            if valid_run_id(path.name) and (path / STORE_FILE).is_file()
        )

    def version(self, run_id: str) -> str | None:
        """The run's current version, None when there is no such run."""
        path = run_directory(self.runs_dir, run_id)
        return None if path is None or not (path / STORE_FILE).is_file() else stamp(path)

    def written(self, run_id: str) -> float | None:
        """When the run last committed (newest mtime of its store files), as a Unix time."""
        path = run_directory(self.runs_dir, run_id)
        if path is None:
            return None
        times = []
        for name in _STAMPED:
            try:
                info = (path / name).stat()
            except OSError:
                continue
            if info.st_size > 0:  # an empty WAL is a reader's doing, not the run's
                times.append(info.st_mtime)
        return max(times, default=None)

    def entry(self, run_id: str) -> _Entry | None:
        """The run loaded at its current version (read again only when it changed)."""
        path = run_directory(self.runs_dir, run_id)
        if path is None or not (path / STORE_FILE).is_file():
            return None
        version = stamp(path)
        with self._lock:
            cached = self._entries.get(run_id)
            if cached is not None and (cached.version == version or cached.fresh_enough(self.clock())):
                return cached
        started = time.perf_counter()
        try:
            summary, error = load_run_summary(path), None
        except UsageError as exc:  # a store still being created, or damaged: say so, keep polling
            summary, error = None, str(exc)
        entry = _Entry(version, summary, error, self.clock(), time.perf_counter() - started)
        with self._lock:
            self._entries[run_id] = entry
        return entry

    def summary(self, run_id: str) -> RunSummary | None:
        entry = self.entry(run_id)
        return None if entry is None else entry.summary

    def summaries(self) -> list[RunSummary]:
        ids = self.run_ids()
        with self._lock:  # forget runs that were removed
            for gone in set(self._entries) - set(ids):
                del self._entries[gone]
        return [summary for run_id in ids if (summary := self.summary(run_id)) is not None]

    def listing_version(self) -> str:
        """Changes when a run appears, disappears or commits."""
        return "|".join(f"{run_id}:{self.version(run_id)}" for run_id in self.run_ids())

    def _group(self, group_id: str) -> tuple[str, GroupSummary] | None:
        """(version of what was read, the group) from the members' cached entries."""
        if not valid_run_id(group_id):
            return None
        members = []
        for run_id in self.run_ids():
            entry = self.entry(run_id)
            if entry is not None and entry.summary is not None and entry.summary.group == group_id:
                members.append((run_id, entry))
        if not members:
            return None
        version = "|".join(f"{run_id}:{entry.version}" for run_id, entry in members)
        return version, group_summary(group_id, [entry.summary for _, entry in members if entry.summary])

    def group_rendered(
        self, group_id: str, render: Callable[[GroupSummary], str]
    ) -> tuple[str, GroupSummary, str] | None:
        """(version, group, HTML of `render(group)`), rendered once per version of its runs as read."""
        found = self._group(group_id)
        if found is None:
            return None
        version, group = found
        with self._render_lock:
            cached = self._groups.get(group_id)
            if cached is None or cached[0] != version:
                cached = (version, render(group))
                self._groups[group_id] = cached
        return version, group, cached[1]

    def group_version(self, group_id: str) -> str | None:
        if not valid_run_id(group_id):
            return None
        members = [run.run_id for run in self.summaries() if run.group == group_id]
        return "|".join(f"{run_id}:{self.version(run_id)}" for run_id in members) or None

    def rendered(self, run_id: str, kind: str, render: Callable[[RunSummary], str]) -> tuple[str, str] | None:
        """(version, HTML) of `render(summary)`, rendered once per version of the run."""
        entry = self.entry(run_id)
        if entry is None:
            return None
        if entry.summary is None:
            return entry.version, ""
        with self._render_lock:
            if kind not in entry.rendered:
                started = time.perf_counter()
                entry.rendered[kind] = render(entry.summary)
                entry.cost += time.perf_counter() - started
            return entry.version, entry.rendered[kind]
