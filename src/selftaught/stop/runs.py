"""Finding runs on disk: open one by id, list them all (file names: `selftaught.store.RunDir`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selftaught.errors import UsageError
from selftaught.estimates import select_iteration, self_improvement_steps
from selftaught.store import STORE_FILE, IterationRecord, RunDir, RunReader, RunStore, new_run_id

__all__ = ["STORE_FILE", "RunResult", "list_runs", "new_run_id", "open_run", "read_run", "run_path"]


def run_path(runs_dir: Path, run_id: str) -> Path:
    """Directory of an existing run; a clear error when it does not exist or has no store."""
    return RunDir.existing(runs_dir, run_id).path


def open_run(runs_dir: Path, run_id: str) -> RunStore:
    """An existing run's store, for writing (resume, transfer)."""
    return RunStore.open_existing(RunDir.existing(runs_dir, run_id).store_file)


def read_run(runs_dir: Path, run_id: str) -> RunReader:
    """An existing run's store, read-only (audits, tables, reports)."""
    return RunReader.open(RunDir.existing(runs_dir, run_id).store_file)


@dataclass
class RunResult:
    """One STOP run: what `self_improve` returns and what `selftaught runs` lists, read from its store.

    Why one type: the run a command just finished and a run found on disk are the same thing; they once
    were two classes (RunResult, RunListing) computing the selected iteration each their own way.
    `to_dict` is the run's JSON (`run --json`); `listing_json` the row of `runs --json`.
    """

    run_id: str
    path: Path
    task: str
    model: str
    status: str
    iterations: list[IterationRecord]
    stop_reason: str | None = None
    group: str | None = None
    started: float | None = None

    @classmethod
    def read(cls, run: RunDir, reader: RunReader) -> RunResult:
        meta = reader.meta()
        return cls(
            run.run_id,
            run.path,
            meta.task or "?",
            meta.model or "?",
            meta.status,
            reader.iterations(),
            meta.stop_reason,
            meta.group,
            meta.started,
        )

    @property
    def selected(self) -> IterationRecord | None:
        """The iteration validation selects (`estimates.select_iteration`: earliest on a tie, t=0
        included). Never the best test value: that would pick on test (`runs` shows its test value)."""
        return select_iteration(self.iterations)

    def to_json(self) -> str:
        """The JSON text the CLI's `--json` prints (`to_dict()` holds the same as plain values)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "path": str(self.path),
            "task": self.task,
            "model": self.model,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "iterations": [
                {
                    "t": it.t,
                    "meta_utility_val": it.meta_utility_val,
                    "meta_utility_test": it.meta_utility_test,
                    "improver_sha": it.improver_sha,
                    **{k: v for k, v in it.to_dict().items() if k not in ("t", "improver_sha")},
                }
                for it in self.iterations
            ],
        }

    def listing_json(self) -> dict[str, Any]:
        """One row of `runs --json` (`iterations` counts the iterations after the seed)."""
        chosen = self.selected
        return {
            "run_id": self.run_id,
            "task": self.task,
            "model": self.model,
            "status": self.status,
            "iterations": self_improvement_steps(self.iterations),
            "best_meta_utility_val": None if chosen is None else chosen.meta_utility_val,
            "best_meta_utility_test": None if chosen is None else chosen.meta_utility_test,
            "group": self.group,
            "started": self.started,
            "selected_t": None if chosen is None else chosen.t,
        }


def list_runs(runs_dir: Path) -> list[RunResult]:
    """Every run under `runs_dir`, oldest first; unreadable entries are skipped, not fatal.

    Stores are opened read-only: listing never writes to a run (not even an old one's schema).
    """
    listings: list[RunResult] = []
    root = Path(runs_dir)
    if not root.is_dir():
        return listings
    for path in sorted(root.iterdir()):
        run = RunDir(path)
        if not run.store_file.is_file():
            continue
        try:
            reader = RunReader.open(run.store_file)
        except UsageError:
            continue
        with reader:
            listings.append(RunResult.read(run, reader))
    return listings
