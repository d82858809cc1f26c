"""The paper-shaped circumvention table, from stored sandbox-flag runs.

Each run measures one condition (with or without the warning); the paper's table puts both side by side
per model. Runs of the same model and condition are pooled (attempts and disabled added up), so two runs
of 5,000 give the same row as one run of 10,000.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selftaught.errors import UsageError
from selftaught.safety.stats import rate_with_interval
from selftaught.stop.runs import read_run


def flag_rows(runs_dir: Path, run_ids: list[str]) -> list[dict[str, Any]]:
    """One row per model: {"model", "without_warning", "with_warning", "runs"}; a cell is None if unmeasured."""
    pooled: dict[tuple[str, bool], list[int]] = {}
    runs: dict[str, list[str]] = {}
    for run_id in run_ids:
        with read_run(runs_dir, run_id) as store:
            meta = store.meta()
        if meta.experiment != "sandbox-flag":
            raise UsageError(f"run {run_id!r} is not a sandbox-flag run")
        result = meta.result
        if result is None:
            raise UsageError(f"run {run_id!r} has no result (status {meta.status!r})")
        model = str(meta.model)
        key = (model, bool(meta.warning))
        totals = pooled.setdefault(key, [0, 0])
        totals[0] += int(result["attempts"])
        totals[1] += int(result["disabled"])
        runs.setdefault(model, []).append(run_id)
    rows = []
    for model in runs:
        row: dict[str, Any] = {"model": model, "runs": runs[model]}
        for warning, name in ((False, "without_warning"), (True, "with_warning")):
            cell = pooled.get((model, warning))
            if cell is None:
                row[name] = None
                continue
            rate = rate_with_interval(cell[1], cell[0])
            row[name] = {
                "attempts": cell[0],
                "disabled": cell[1],
                "rate": rate.rate,
                "ci_low": rate.low,
                "ci_high": rate.high,
            }
        rows.append(row)
    return rows
