"""Whole HTML reports: one run, one group of runs (`--seeds N`), or a comparison of runs and groups.

The page structure is stable so tests and users can rely on it: sections `#summary`, `#curves`,
`#budget`, `#usage`, `#events`, `#lineage`, `#strategies`, `#transfer`, `#config` for a run; `#summary`, `#curves`,
`#strategies`, `#runs` for a group or comparison; every plot is a `figure.plot[data-plot]`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.report.activity import downstream_section, progress_section
from selftaught.report.aggregate import strategy_counts
from selftaught.report.code_view import escape
from selftaught.report.lineage import lineage_section
from selftaught.report.model import GroupSummary, RunSummary
from selftaught.report.page import badge, cost, document, figure, mean_se, num, section, table
from selftaught.report.plots import Curve, compare_curves_svg, group_curve_svg
from selftaught.report.sections import (
    budget_section,
    config_section,
    curves_section,
    events_section,
    iterations_table,
    short_label,
    strategies_section,
    summary_section,
    transfer_section,
    usage_section,
)
from selftaught.tasks.catalog import has_test_split

RUN_NAV = [
    ("summary", "Summary"),
    ("progress", "Progress"),
    ("curves", "Meta-utility"),
    ("budget", "Score vs budget"),
    ("usage", "LM usage"),
    ("events", "Events"),
    ("lineage", "Lineage"),
    ("downstream", "Programs"),
    ("strategies", "Strategies"),
    ("transfer", "Transfer"),
    ("config", "Configuration"),
]
GROUP_NAV = [
    ("summary", "Summary"),
    ("curves", "Meta-utility"),
    ("strategies", "Strategies"),
    ("runs", "Runs"),
]


def run_body(run: RunSummary) -> str:
    """The sections of one run's report (the static page and the live view show exactly these)."""
    return "".join(
        [
            summary_section(run),
            progress_section(run),
            curves_section(run),
            budget_section(run),
            usage_section(run),
            events_section(run),
            lineage_section(run),
            downstream_section(run),
            strategies_section([run]),
            transfer_section(run),
            config_section(run),
        ]
    )


def run_title(run: RunSummary) -> tuple[str, str]:
    """(title, subtitle HTML) of a run's page."""
    subtitle = f"{badge(run.status)} task <strong>{escape(run.task)}</strong> · model {escape(run.model)}"
    return f"STOP run {run.run_id}", subtitle


def run_html(run: RunSummary) -> str:
    """The full report of one run."""
    title, subtitle = run_title(run)
    return document(title, subtitle, RUN_NAV, run_body(run), warnings=run.warnings, kind="run")


def runs_table(runs: Sequence[RunSummary]) -> str:
    rows = []
    for run in runs:
        best = run.best
        # The selected iteration's test value (the one best rule, as `runs` and the gain line read it).
        its_test = best if best is not None and has_test_split(run.task) else None
        totals = run.totals()
        rows.append(
            f'<tr data-run="{escape(run.run_id)}"><td><a href="#run-{escape(run.run_id)}">{escape(run.run_id)}</a></td>'
            f"<td>{escape(run.task)}</td><td>{escape(run.model)}</td><td>{badge(run.status)}</td>"
            f"{num(run.steps)}"
            + (
                mean_se(run.iterations[0].meta_utility_val, run.iterations[0].stderr_val)
                if run.iterations
                else '<td class="num">-</td>'
            )
            + (mean_se(best.meta_utility_val, best.stderr_val) if best else '<td class="num">-</td>')
            + (
                mean_se(its_test.meta_utility_test, its_test.stderr_test)
                if its_test
                else '<td class="num">-</td>'
            )
            + f"{num(int(totals['lm_calls']))}{cost(totals['cost_usd'], run.price_known)}</tr>"
        )
    headers = [
        "run",
        "task",
        "model",
        "status",
        "iterations",
        "t=0 val",
        "best val (t)",
        "its test",
        "LM calls",
        "cost $",
    ]
    return table(headers, rows, ident="runs-table", numeric={4, 5, 6, 7, 8, 9})


def _run_details(run: RunSummary) -> str:
    prefix = f"{run.run_id}-"
    warnings = "".join(f'<div class="warning">{escape(text)}</div>' for text in run.warnings)
    return (
        f'<details class="run" id="run-{escape(run.run_id)}"><summary><strong>{escape(run.run_id)}</strong> '
        f"{badge(run.status)} seed {run.seed}</summary>{warnings}{iterations_table(run, prefix)}"
        f"{lineage_section(run, prefix, as_section=False)}</details>"
    )


def group_body(group: GroupSummary) -> str:
    """The sections of a group's page (the static page and the live view show exactly these)."""
    rows = [
        f'<tr data-t="{p.t}"><td class="num">{p.t}</td>{num(p.runs)}{mean_se(p.mean_val, p.stderr_val)}'
        f"{mean_se(p.mean_test, p.stderr_test)}"
        + "".join(_run_value(run, p.t) for run in group.runs)
        + "</tr>"
        for p in group.points
    ]
    headers = [
        "t",
        "runs",
        "val mean ± SE",
        "test mean ± SE",
        *(f"val {short_label(run)}" for run in group.runs),
    ]
    summary = section(
        "summary",
        "Summary",
        (
            '<p class="muted">Mean ± standard error over the runs that reached each iteration (the seeds of one '
            "invocation differ in model seed and secret test split).</p>"
            + table(headers, rows, ident="aggregate-table", numeric=set(range(len(headers))) - set())
            + runs_table(group.runs)
        ),
    )
    curves = section(
        "curves",
        "Meta-utility over seeds",
        figure(
            group_curve_svg(group),
            "meta-utility",
            "Mean ± SE over runs; thin lines are the individual runs (validation).",
        ),
    )
    return (
        summary
        + curves
        + strategies_section(group.runs, group.strategy_counts)
        + section("runs", "Runs", "".join(_run_details(run) for run in group.runs))
    )


def group_title(group: GroupSummary) -> tuple[str, str]:
    """(title, subtitle HTML) of a group's page."""
    return (
        f"STOP group {group.group_id}",
        f"{len(group.runs)} runs · task <strong>{escape(group.task)}</strong>",
    )


def group_warnings(group: GroupSummary) -> tuple[str, ...]:
    return tuple(f"{run.run_id}: {text}" for run in group.runs for text in run.warnings)


def group_html(group: GroupSummary) -> str:
    """A group of runs: mean ± standard error per iteration, strategy counts, and each run collapsible."""
    title, subtitle = group_title(group)
    return document(
        title, subtitle, GROUP_NAV, group_body(group), warnings=group_warnings(group), kind="group"
    )


def _run_value(run: RunSummary, t: int) -> str:
    match = next((it for it in run.iterations if it.t == t), None)
    return num(match.meta_utility_val) if match else '<td class="num" data-value="">-</td>'


def comparison_curves(items: Sequence[RunSummary | GroupSummary], split: str = "val") -> list[Curve]:
    """One curve per run (± SE over tests) or group (± SE over runs) on `split` ("val" or "test")."""
    test = split == "test"
    curves = []
    for item in items:
        if isinstance(item, GroupSummary):
            curves.append(
                Curve(
                    f"{item.group_id} ({len(item.runs)} runs)",
                    [p.t for p in item.points],
                    [p.mean_test if test else p.mean_val for p in item.points],
                    [p.stderr_test if test else p.stderr_val for p in item.points],
                )
            )
        else:
            its = item.iterations
            curves.append(
                Curve(
                    item.run_id,
                    [it.t for it in its],
                    [it.meta_utility_test if test else it.meta_utility_val for it in its],
                    [it.stderr_test if test else it.stderr_val for it in its],
                )
            )
    return curves


def _split_cells(curves: Sequence[Curve], t: int) -> list[str]:
    cells = []
    for curve in curves:
        if t in curve.t:
            index = list(curve.t).index(t)
            cells.append(mean_se(curve.mean[index], curve.stderr[index]))
        else:
            cells.append('<td class="num" data-value="">-</td>')
    return cells


def compare_html(items: Sequence[RunSummary | GroupSummary]) -> str:
    """Runs and groups side by side: a table, overlaid curves, strategy counts per item."""
    runs = [run for item in items for run in (item.runs if isinstance(item, GroupSummary) else (item,))]
    labels = [item.group_id if isinstance(item, GroupSummary) else item.run_id for item in items]
    curves = comparison_curves(items)
    # Test curves only where every compared task has a held-out split (OpenEvolve tasks may not).
    test_curves = comparison_curves(items, "test") if all(has_test_split(run.task) for run in runs) else None
    depth = max((max(curve.t) + 1 for curve in curves if curve.t), default=0)
    rows = []
    for t in range(depth):
        cells = _split_cells(curves, t) + (_split_cells(test_curves, t) if test_curves else [])
        rows.append(f'<tr data-t="{t}"><td class="num">{t}</td>{"".join(cells)}</tr>')
    headers = [f"val {label}" for label in labels] + (
        [f"test {label}" for label in labels] if test_curves else []
    )
    summary = section(
        "summary",
        "Summary",
        (
            table(
                ["t", *headers],
                rows,
                ident="compare-table",
                numeric=set(range(len(headers) + 1)),
            )
            + runs_table(runs)
        ),
    )
    plot = figure(
        compare_curves_svg(curves, test_curves),
        "compare",
        "Meta-utility on validation (what selection sees) and on the held-out test split (what it reports); "
        "bands ± SE (over tests for a run, over runs for a group).",
    )
    counts_rows = []
    names = list(strategy_counts([]))
    for item, label in zip(items, labels, strict=True):
        counts = strategy_counts(item.runs if isinstance(item, GroupSummary) else [item])
        counts_rows.append(
            f'<tr data-item="{escape(label)}"><td>{escape(label)}</td>'
            + "".join(num(counts[name]) for name in names)
            + "</tr>"
        )
    strategies = section(
        "strategies",
        "Detected strategies (distinct improved improvers)",
        table(
            ["run / group", *names],
            counts_rows,
            ident="strategy-counts",
            numeric=set(range(1, len(names) + 1)),
        ),
    )
    body = (
        summary
        + section("curves", "Meta-utility", plot)
        + strategies
        + section("runs", "Runs", "".join(_run_details(run) for run in runs))
    )
    warnings = tuple(f"{run.run_id}: {text}" for run in runs for text in run.warnings)
    return document(
        "STOP comparison: " + ", ".join(labels),
        f"{len(items)} items, {len(runs)} runs",
        GROUP_NAV,
        body,
        warnings=warnings,
        kind="compare",
    )


def write_html(text: str, path: Path) -> Path:
    """Write atomically (a reader never sees half a report); UsageError when the place is not writable."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
