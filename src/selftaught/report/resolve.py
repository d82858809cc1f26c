"""From what the user typed (a run id, a group id, or a path) to loaded summaries.

A `--seeds N` invocation writes N run directories that share a "group" meta value and no directory of
its own, so a group id is resolved by reading the meta table of every run under the runs directory
(cheap: one small query each). A path to a run directory also works, for runs copied elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.report.aggregate import group_summary
from selftaught.report.load import STORE_FILE, load_run_summary, read_meta
from selftaught.report.model import GroupSummary, RunSummary

Report = RunSummary | GroupSummary


def group_members(runs_dir: Path, group_id: str) -> list[Path]:
    """Run directories whose meta says they belong to `group_id` (unreadable stores are skipped)."""
    root = Path(runs_dir)
    if not root.is_dir():
        return []
    members = []
    for path in sorted(root.iterdir()):
        if not (path / STORE_FILE).is_file():
            continue
        try:
            if read_meta(path).get("group") == group_id:
                members.append(path)
        except UsageError:
            continue
    return members


def resolve(ref: str, runs_dir: Path, *, on_load: Callable[[Path], None] | None = None) -> Report:
    """A run id / group id / run directory path -> `RunSummary` or `GroupSummary`.

    `on_load` is called before each run is read (progress for groups of many runs).
    """
    if not ref or ref in (".", ".."):
        raise UsageError(f"invalid run id {ref!r}")
    notify = on_load or (lambda _path: None)
    candidate = Path(runs_dir) / ref if "/" not in ref else Path(ref)
    if candidate.is_dir() and (candidate / STORE_FILE).exists():
        notify(candidate)
        return load_run_summary(candidate)
    if candidate.is_dir():
        raise UsageError(f"run {ref!r} has no {STORE_FILE}: it was never started or its files were removed")
    if "/" not in ref:
        members = group_members(runs_dir, ref)
        if members:
            runs = []
            for path in members:
                notify(path)
                runs.append(load_run_summary(path))
            return group_summary(ref, runs)
    raise UsageError(f"no run or group {ref!r} in {runs_dir} (see `selftaught runs --runs-dir {runs_dir}`)")
