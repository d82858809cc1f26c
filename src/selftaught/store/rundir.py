"""Where a run's files live: one `RunDir` knows every file name.

`<runs_dir>/<run_id>/run.sqlite` (the store), `lm_cache.sqlite` (answered LM calls, for resume) and
`improvers/t<T>_<sha8>.py` (a readable copy of each iteration's improver) and `best_program.py` (the
best program the final improver produced); `report.html` is where `selftaught report` writes by default. Run ids sort by creation time
and say what ran: `20261126-231500-parity_noise-s0-3fa2`.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from selftaught.errors import UsageError

STORE_FILE = "run.sqlite"
LM_CACHE_FILE = "lm_cache.sqlite"
IMPROVERS_DIR = "improvers"
BEST_PROGRAM_FILE = "best_program.py"
REPORT_FILE = "report.html"


def new_run_id(task: str, seed: int, last_seed: int | None = None) -> str:
    """`<time>-<task>-s<seed>-<random>`; a group of seeds says its range (`s0-4` for seeds 0 to 4)."""
    safe_task = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in Path(task).name)[:40]
    seeds = f"{seed}-{last_seed}" if last_seed is not None and last_seed != seed else f"{seed}"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_task}-s{seeds}-{secrets.token_hex(2)}"


@dataclass(frozen=True)
class RunDir:
    """One run's directory (it may not exist yet for a new run)."""

    path: Path
    store_name: str = STORE_FILE  # another name only when a report is pointed at a renamed store file

    @classmethod
    def new(cls, runs_dir: Path, task: str, seed: int) -> RunDir:
        return cls(Path(runs_dir) / new_run_id(task, seed))

    @classmethod
    def existing(cls, runs_dir: Path, run_id: str) -> RunDir:
        """An existing run by id; a clear error when it does not exist or has no store."""
        if not run_id or "/" in run_id or run_id in (".", ".."):
            raise UsageError(f"invalid run id {run_id!r}")
        run = cls(Path(runs_dir) / run_id)
        if not run.path.is_dir():
            raise UsageError(f"no run {run_id!r} in {runs_dir} (see `selftaught runs --runs-dir {runs_dir}`)")
        if not run.store_file.is_file():
            raise UsageError(
                f"run {run_id!r} has no {STORE_FILE}: it was never started or its files were removed"
            )
        return run

    @classmethod
    def at(cls, path: Path) -> RunDir:
        """The run at `path`, a run directory or its run.sqlite; `UsageError` when there is no store."""
        path = Path(path)
        if path.is_dir():
            if not (path / STORE_FILE).exists():
                raise UsageError(
                    f"{path} has no {STORE_FILE}: the run was never started or its files were removed"
                )
            return cls(path)
        if not path.exists():
            raise UsageError(f"no run at {path}")
        return cls(path.parent, path.name)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def store_file(self) -> Path:
        return self.path / self.store_name

    @property
    def lm_cache_file(self) -> Path:
        return self.path / LM_CACHE_FILE

    @property
    def best_program_file(self) -> Path:
        return self.path / BEST_PROGRAM_FILE

    @property
    def report_file(self) -> Path:
        return self.path / REPORT_FILE

    def improver_copy(self, t: int, sha: str) -> Path:
        return self.path / IMPROVERS_DIR / f"t{t}_{sha[:8]}.py"

    def write_improver_copy(self, t: int, sha: str, source: str) -> Path:
        """A readable copy of iteration t's improver (the store holds the authoritative one)."""
        path = self.improver_copy(t, sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text(source, encoding="utf-8")
            tmp.replace(path)
        return path
