"""Where runs live on disk and how to find them.

`<runs_dir>/<run_id>/run.sqlite` plus `improvers/t<T>_<sha8>.py`, a readable copy of each iteration's
improver. Run ids sort by creation time and say what ran: `20261126-231500-parity_noise-s0-3fa2`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.store.db import RunStore

STORE_FILE = "run.sqlite"


def new_run_id(task: str, seed: int) -> str:
    safe_task = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in Path(task).name)[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_task}-s{seed}-{secrets.token_hex(2)}"


def run_path(runs_dir: Path, run_id: str) -> Path:
    """Directory of an existing run; a clear error when it does not exist or has no store."""
    if not run_id or "/" in run_id or run_id in (".", ".."):
        raise UsageError(f"invalid run id {run_id!r}")
    path = Path(runs_dir) / run_id
    if not path.is_dir():
        raise UsageError(f"no run {run_id!r} in {runs_dir} (see `selftaught runs --runs-dir {runs_dir}`)")
    if not (path / STORE_FILE).is_file():
        raise UsageError(f"run {run_id!r} has no {STORE_FILE}: it was never started or its files were removed")
    return path


def open_run(runs_dir: Path, run_id: str) -> RunStore:
    return RunStore.open_existing(run_path(runs_dir, run_id) / STORE_FILE)


def write_improver_copy(run_dir: Path, t: int, sha: str, source: str) -> Path:
    """A readable copy of iteration t's improver (the store holds the authoritative one)."""
    folder = run_dir / "improvers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"t{t}_{sha[:8]}.py"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(source, encoding="utf-8")
        tmp.replace(path)
    return path


@dataclass(frozen=True)
class RunListing:
    run_id: str
    task: str
    model: str
    status: str
    iterations: int
    best_meta_utility_val: float | None
    best_meta_utility_test: float | None
    group: str | None
    started: float | None


def list_runs(runs_dir: Path) -> list[RunListing]:
    """Every run under `runs_dir`, oldest first; unreadable entries are skipped, not fatal."""
    listings: list[RunListing] = []
    root = Path(runs_dir)
    if not root.is_dir():
        return listings
    for path in sorted(root.iterdir()):
        if not (path / STORE_FILE).is_file():
            continue
        store = RunStore(path / STORE_FILE)
        try:
            rows = store.query(
                "SELECT COUNT(*) AS n, MAX(meta_utility_val) AS best_val, MAX(meta_utility_test) AS best_test "
                "FROM iterations WHERE t > 0"
            )
            listings.append(
                RunListing(
                    run_id=path.name,
                    task=str(store.get_meta("task", "?")),
                    model=str(store.get_meta("model", "?")),
                    status=str(store.get_meta("status", "unknown")),
                    iterations=int(rows[0]["n"]),
                    best_meta_utility_val=rows[0]["best_val"],
                    best_meta_utility_test=rows[0]["best_test"],
                    group=store.get_meta("group"),
                    started=store.get_meta("started"),
                )
            )
        finally:
            store.close()
    return listings
