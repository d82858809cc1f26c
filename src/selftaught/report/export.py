"""`--format json|csv`: the report's numbers for notebooks and scripts.

JSON is the whole summary (`RunSummary.to_dict`, `GroupSummary.to_dict`, or a list for `compare`). CSV
is one flat table, one row per (run, iteration), plus one "mean" row per iteration for each group — the
columns are fixed (`CSV_COLUMNS`) so a notebook can `pandas.read_csv` any export the same way.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from selftaught.report.model import GroupSummary, RunSummary

CSV_COLUMNS = (
    "row",
    "group",
    "run_id",
    "task",
    "model",
    "status",
    "t",
    "iteration_status",
    "runs",
    "meta_utility_val",
    "stderr_val",
    "meta_utility_test",
    "stderr_test",
    "lm_calls",
    "tokens_in",
    "tokens_out",
    "cost_usd",
    "wall_seconds",
    "improver_sha",
    "parent_sha",
    "strategies",
)

Item = RunSummary | GroupSummary


def to_json_data(items: Sequence[Item]) -> Any:
    """One item -> its dict; several (compare) -> a list of dicts."""
    data = [item.to_dict() for item in items]
    return data[0] if len(data) == 1 else data


def to_json_text(items: Sequence[Item]) -> str:
    return json.dumps(to_json_data(items), indent=2, default=str)


def _run_rows(run: RunSummary, group: str | None) -> list[dict[str, Any]]:
    strategies = {imp.t: "; ".join(hit.strategy for hit in imp.strategies) for imp in run.improvers}
    return [
        {
            "row": "run",
            "group": group or run.group or "",
            "run_id": run.run_id,
            "task": run.task,
            "model": run.model,
            "status": run.status,
            "t": it.t,
            "iteration_status": it.status,
            "runs": 1,
            "meta_utility_val": it.meta_utility_val,
            "stderr_val": it.stderr_val,
            "meta_utility_test": it.meta_utility_test,
            "stderr_test": it.stderr_test,
            "lm_calls": it.lm_calls,
            "tokens_in": it.tokens_in,
            "tokens_out": it.tokens_out,
            "cost_usd": it.cost_usd,
            "wall_seconds": it.wall_seconds,
            "improver_sha": it.improver_sha,
            "parent_sha": it.parent_sha or "",
            "strategies": strategies.get(it.t, ""),
        }
        for it in run.iterations
    ]


def csv_rows(items: Sequence[Item]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, GroupSummary):
            for run in item.runs:
                rows += _run_rows(run, item.group_id)
            rows += [
                {
                    "row": "mean",
                    "group": item.group_id,
                    "task": item.task,
                    "t": p.t,
                    "runs": p.runs,
                    "meta_utility_val": p.mean_val,
                    "stderr_val": p.stderr_val,
                    "meta_utility_test": p.mean_test,
                    "stderr_test": p.stderr_test,
                }
                for p in item.points
            ]
        else:
            rows += _run_rows(item, None)
    return rows


def to_csv_text(items: Sequence[Item]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(items):
        writer.writerow(
            {key: (repr(value) if isinstance(value, float) else value) for key, value in row.items()}
        )
    return buffer.getvalue()
