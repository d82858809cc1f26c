"""See what happened in a run: plain-data summaries, HTML reports, exports and strategy detection.

    from selftaught.report import load_run_summary, load_report, html_report
    run = load_run_summary("runs/20261126-231500-parity_noise-s0-3fa2")   # -> RunSummary
    [(it.t, it.meta_utility_val) for it in run.iterations]
    group = load_report("group-...", runs_dir="runs")                      # -> GroupSummary (mean ± SE)
    html_report(run, "report.html")

Everything returned is a frozen dataclass with `to_dict()`; nothing here writes to a run store. The
HTML and plotting modules (matplotlib) are imported only when a page is rendered.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from selftaught.estimates import AggregatePoint, standard_error
from selftaught.report.aggregate import group_summary, strategy_counts
from selftaught.report.load import load_run_summary
from selftaught.report.model import (
    Candidate,
    DownstreamRun,
    Event,
    GroupSummary,
    Improver,
    ImproverRuns,
    Iteration,
    LmUsage,
    Progress,
    RunSummary,
    StrategyHit,
)
from selftaught.report.resolve import resolve
from selftaught.report.strategies import STRATEGIES, detect_strategies
from selftaught.store import TransferCell

__all__ = [
    "STRATEGIES",
    "AggregatePoint",
    "Candidate",
    "DownstreamRun",
    "Event",
    "GroupSummary",
    "Improver",
    "ImproverRuns",
    "Iteration",
    "LmUsage",
    "Progress",
    "RunSummary",
    "StrategyHit",
    "TransferCell",
    "compare_report",
    "detect_strategies",
    "group_summary",
    "html_report",
    "load_report",
    "load_run_summary",
    "render_html",
    "standard_error",
    "strategy_counts",
]


def load_report(ref: str, runs_dir: Path | str = "runs") -> RunSummary | GroupSummary:
    """A run id, a group id (the runs of one `--seeds N` invocation) or a run directory path."""
    return resolve(ref, Path(runs_dir))


def render_html(item: RunSummary | GroupSummary | Sequence[RunSummary | GroupSummary]) -> str:
    """The self-contained HTML page: a run, a group, or (a sequence) a comparison."""
    from selftaught.report import html

    if isinstance(item, RunSummary):
        return html.run_html(item)
    if isinstance(item, GroupSummary):
        return html.group_html(item)
    return html.compare_html(list(item))


def html_report(
    item: RunSummary | GroupSummary | Sequence[RunSummary | GroupSummary], path: Path | str
) -> Path:
    """Render and write atomically; returns the path written."""
    from selftaught.report.html import write_html

    return write_html(render_html(item), Path(path))


def compare_report(refs: Sequence[str], runs_dir: Path | str = "runs") -> list[RunSummary | GroupSummary]:
    """Load several runs or groups to put side by side (see `render_html`)."""
    return [resolve(ref, Path(runs_dir)) for ref in refs]
