"""The rich terminal summary printed by `selftaught report` and `selftaught compare`.

Why a short summary rather than the whole report: the terminal is for "did it work, how much, what
next"; the HTML file holds the code, diffs and plots. Everything printed comes from the same summaries
as the HTML, so the two never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from selftaught.estimates import STATUS_MEANINGS, select_iteration, status_labels
from selftaught.lm.pricing import price_known
from selftaught.report.model import BudgetCurve, GroupSummary, Improver, Iteration, RunSummary
from selftaught.tasks.catalog import NO_TEST_SPLIT, has_test_split

_STATUS_STYLE = {
    "completed": "green",
    "running": "cyan",
    "stopped": "yellow",
    "failed": "red",
    "interrupted": "yellow",
}


def _pm(mean: float, stderr: float) -> str:
    return f"{mean:.3f} ± {stderr:.3f}"


def print_run(console: Console, run: RunSummary) -> None:
    style = _STATUS_STYLE.get(run.status, "white")
    console.print(
        f"[bold]run {run.run_id}[/] — task [bold]{run.task}[/], model {run.model}, "
        f"status [{style}]{run.status}[/]"
    )
    for warning in run.warnings:
        console.print(f"[yellow]! {warning}")
    if not run.iterations:
        console.print("no iteration finished yet")
        return
    known = price_known(run.model, run.config.get("prices_file"))
    split = has_test_split(run.task)
    console.print(
        iterations_table(run.iterations, "meta-utility per iteration (± SE over tests)", known, split)
    )
    console.print(table_legend(run.model, known, split), markup=False, highlight=False)
    for improver in run.improvers:
        names = ", ".join(hit.strategy for hit in improver.strategies) or "no strategy detected"
        console.print(f"  strategies t={improver.t} {improver.sha[:10]}: {names}{_lm(improver)}")
    for curve in run.budget_curves:
        console.print(f"  score vs budget t={curve.t}: {budget_line(curve)}")
    counts: dict[str, int] = {}
    for event in run.events:
        counts[event.category] = counts.get(event.category, 0) + 1
    expected = counts.pop("expected", 0)
    if counts:
        console.print("events: " + ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items())))
    if expected:
        console.print(
            f"expected in a normal run: {expected} (generated programs whose outputs were rejected, "
            "candidate improvers that failed and were not adopted, evaluations stopped early by the "
            "cascade)",
            style="dim",
        )
    if run.transfers:
        console.print(
            f"transfer: {len(run.transfers)} cells on "
            f"{len({cell.task for cell in run.transfers})} tasks (see the HTML report)"
        )


def iterations_table(
    iterations: Sequence[Iteration], title: str, price_is_known: bool = True, test_split: bool = True
) -> Table:
    """The one run table (`run` and `report` print it): per iteration its status in words, validation
    and test meta-utility ± SE, LM calls, tokens, cost and wall time, and its improver; * marks the
    iteration validation selects (`estimates.select_iteration`)."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for column in (
        "t",
        "status",
        "val ± se",
        "test ± se",
        "LM calls",
        "tokens",
        "cost $",
        "wall s",
        "improver",
    ):
        table.add_column(
            column, justify="left" if column in ("status", "improver") else "right", no_wrap=True
        )
    best = select_iteration(iterations)
    labels = status_labels(iterations)
    for it in iterations:
        table.add_row(
            f"{it.t}{'*' if best is not None and it.t == best.t else ''}",
            labels[it.t],
            _pm(it.meta_utility_val, it.stderr_val),
            _pm(it.meta_utility_test, it.stderr_test) if test_split else "-",
            str(it.lm_calls),
            str(it.tokens_in + it.tokens_out),
            f"{it.cost_usd:.4f}" if price_is_known else "unknown",
            f"{it.wall_seconds:.1f}",
            it.improver_sha[:8],
        )
    return table


def table_legend(model: str, price_is_known: bool = True, test_split: bool = True) -> str:
    """The lines under `iterations_table`: what * and the statuses mean, an unknown price, no test split."""
    statuses = "; ".join(f"{word}: {meaning}" for word, meaning in STATUS_MEANINGS.items())
    text = f"* the iteration validation selects (earliest on a tie); tokens = in + out\n{statuses}"
    if not test_split:
        text += f"\ntest: {NO_TEST_SPLIT}"
    if not price_is_known:
        text += (
            f"\ncost: price unknown for {model} (costs are not counted); give its price with "
            "--prices-file FILE (selftaught.toml: lm.prices-file)"
        )
    return text


def budget_line(curve: BudgetCurve, most: int = 6) -> str:
    """ "0.412 @1 -> 0.470 @5 LM calls (2 tests)": the mean best-so-far where it changes (at most `most`
    steps: the first ones and the last), so the terminal says how fast the improver got there."""
    points = [
        (x, y)
        for i, (x, y) in enumerate(zip(curve.lm_calls, curve.best, strict=True))
        if i == 0 or y != curve.best[i - 1]
    ]
    if len(points) > most:
        points = points[: most - 1] + points[-1:]
    steps = " -> ".join(f"{y:.3f} @{x}" for x, y in points)
    return f"{steps} LM calls (mean of {curve.tests} test{'s' if curve.tests != 1 else ''})"


def _lm(improver: Improver) -> str:
    if not improver.lm_labelled:
        return ""
    labels = improver.lm_strategies
    return " (LM: " + ("no usable answer" if labels is None else ", ".join(labels) or "none") + ")"


def print_group(console: Console, group: GroupSummary) -> None:
    console.print(f"[bold]group {group.group_id}[/] — {len(group.runs)} runs, task [bold]{group.task}[/]")
    for run in group.runs:
        for warning in run.warnings:
            console.print(f"[yellow]! {run.run_id}: {warning}")
    table = Table(title="mean ± SE over runs")
    for column in ("t", "runs", "val", "test"):
        table.add_column(column, justify="right", no_wrap=True)
    for p in group.points:
        table.add_row(str(p.t), str(p.runs), _pm(p.mean_val, p.stderr_val), _pm(p.mean_test, p.stderr_test))
    console.print(table)
    print_runs_table(console, group.runs)
    found = {name: n for name, n in group.strategy_counts.items() if n}
    console.print(
        "strategies (distinct improved improvers): "
        + (", ".join(f"{name} {n}" for name, n in found.items()) if found else "none detected")
    )


def print_runs_table(console: Console, runs: Sequence[RunSummary]) -> None:
    table = Table(title="runs", box=box.SIMPLE_HEAD)
    for column in (
        "run",
        "status",
        "iterations",
        "t=0 val",
        "best val (t)",
        "its test",
        "LM calls",
        "cost $",
    ):
        table.add_column(
            column, justify="left" if column in ("run", "status") else "right", no_wrap=column != "status"
        )
    for run in runs:
        best, first = run.best, (run.iterations[0] if run.iterations else None)
        its_test = (
            _pm(best.meta_utility_test, best.stderr_test)
            if best is not None and has_test_split(run.task)
            else "-"
        )
        table.add_row(
            run.run_id,
            run.status,
            str(run.steps),
            "-" if first is None else _pm(first.meta_utility_val, first.stderr_val),
            "-" if best is None else f"{_pm(best.meta_utility_val, best.stderr_val)} (t={best.t})",
            its_test,
            f"{run.totals()['lm_calls']:.0f}",
            f"{run.totals()['cost_usd']:.4f}" if run.price_known else "unknown",
        )
    console.print(table)


def print_comparison(console: Console, items: Sequence[RunSummary | GroupSummary]) -> None:
    from selftaught.report.html import comparison_curves

    runs = [run for item in items for run in (item.runs if isinstance(item, GroupSummary) else (item,))]
    splits = ["val", "test"] if all(has_test_split(run.task) for run in runs) else ["val"]
    for split in splits:
        curves = comparison_curves(items, split)
        name = "validation" if split == "val" else "test"
        table = Table(title=f"{name} meta-utility (± SE)")
        table.add_column("t", justify="right")
        for curve in curves:
            table.add_column(curve.label, justify="right", no_wrap=True)
        depth = max((max(curve.t) + 1 for curve in curves if curve.t), default=0)
        for t in range(depth):
            cells = []
            for curve in curves:
                ts = list(curve.t)
                cells.append(_pm(curve.mean[ts.index(t)], curve.stderr[ts.index(t)]) if t in ts else "-")
            table.add_row(str(t), *cells)
        console.print(table)
    if len(splits) == 1:
        console.print(NO_TEST_SPLIT, markup=False, highlight=False)
    for warning in comparison_warnings(runs):
        console.print(f"! {warning}", style="yellow", markup=False, highlight=False)
    print_runs_table(console, runs)


COMPARED_SETTINGS = ("task", "tests", "estimate_tests", "protocol")


def comparison_warnings(runs: Sequence[RunSummary]) -> list[str]:
    """Settings that differ between compared runs and make their numbers not alike (another task,
    another number of tests per estimate, another protocol)."""
    warnings = []
    for key in COMPARED_SETTINGS:
        values = {str(run.config.get(key, run.task if key == "task" else "?")) for run in runs}
        if len(values) > 1:
            warnings.append(
                f"the runs differ in --{key.replace('_', '-')} ({', '.join(sorted(values))}): "
                "their meta-utilities are not estimated alike"
            )
    return warnings


def print_summary(console: Console, item: RunSummary | GroupSummary) -> None:
    if isinstance(item, GroupSummary):
        print_group(console, item)
    else:
        print_run(console, item)
