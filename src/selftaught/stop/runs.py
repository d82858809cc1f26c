"""Finding runs on disk: open one by id, list them all (file names: `selftaught.store.RunDir`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.store import STORE_FILE, RunDir, RunReader, RunStore, new_run_id

__all__ = ["STORE_FILE", "RunListing", "list_runs", "new_run_id", "open_run", "read_run", "run_path"]


def run_path(runs_dir: Path, run_id: str) -> Path:
    """Directory of an existing run; a clear error when it does not exist or has no store."""
    return RunDir.existing(runs_dir, run_id).path


def open_run(runs_dir: Path, run_id: str) -> RunStore:
    """An existing run's store, for writing (resume, transfer)."""
    return RunStore.open_existing(RunDir.existing(runs_dir, run_id).store_file)


def read_run(runs_dir: Path, run_id: str) -> RunReader:
    """An existing run's store, read-only (audits, tables, reports)."""
    return RunReader.open(RunDir.existing(runs_dir, run_id).store_file)


@dataclass(frozen=True)
class RunListing:
    run_id: str
    task: str
    model: str
    status: str
    iterations: int
    best_meta_utility_val: float | None
    best_meta_utility_test: float | None  # test value of the validation-selected iteration, not the best test
    group: str | None
    started: float | None
    selected_t: int | None = None  # the iteration with the best validation meta-utility


def list_runs(runs_dir: Path) -> list[RunListing]:
    """Every run under `runs_dir`, oldest first; unreadable entries are skipped, not fatal.

    Stores are opened read-only: listing never writes to a run (not even an old one's schema).
    """
    listings: list[RunListing] = []
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
            meta = reader.meta()
            improved = [it for it in reader.iterations() if it.t > 0]
        # The test value reported is the one of the iteration validation selects (highest validation
        # meta-utility, earliest on a tie): taking the best test over iterations would pick on test.
        chosen = min(improved, key=lambda it: (-it.meta_utility_val, it.t), default=None)
        listings.append(
            RunListing(
                run_id=run.run_id,
                task=meta.task or "?",
                model=meta.model or "?",
                status=meta.status,
                iterations=len(improved),
                best_meta_utility_val=None if chosen is None else chosen.meta_utility_val,
                best_meta_utility_test=None if chosen is None else chosen.meta_utility_test,
                group=meta.group,
                started=meta.started,
                selected_t=None if chosen is None else chosen.t,
            )
        )
    return listings
