"""Read one run's store into a `RunSummary`, without ever writing to it.

The store is opened with `RunReader.open` (read-only; an older store is migrated in a private copy), so a
report is an observer. Whatever is missing (a run killed before its first iteration, a program row absent)
becomes a line in `RunSummary.warnings`, not an exception; only a path that is not a run at all raises
`UsageError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import selftaught.events as event_kinds
from selftaught.events import category as event_category
from selftaught.lm.pricing import price_known
from selftaught.report.budget import budget_curves
from selftaught.report.model import (
    Candidate,
    DownstreamRun,
    Event,
    Improver,
    ImproverRuns,
    Iteration,
    LmUsage,
    RunSummary,
)
from selftaught.report.progress import run_progress
from selftaught.report.strategies import detect_strategies
from selftaught.store import STORE_FILE, Context, ImproverRunRecord, LmCallRecord, RunDir, RunReader

__all__ = ["STORE_FILE", "context_iteration", "load_run_summary", "read_meta", "store_file"]


def store_file(path: Path) -> Path:
    """The run.sqlite of a run directory (or the file itself); UsageError when there is none."""
    return RunDir.at(path).store_file


def context_iteration(context: Context) -> int | None:
    """Iteration a meta-utility context belongs to: candidates and iteration estimates of step t -> t."""
    return context.t if context.kind in ("candidates", "iteration") else None


def load_run_summary(path: Path) -> RunSummary:
    """Read the run at `path` (a run directory or its run.sqlite) into plain data.

    Raises `UsageError` for a path that is not a run store; a run still in progress or cut short loads
    with what exists and a warning saying what is missing.
    """
    run = RunDir.at(path)
    with RunReader.open(run.store_file) as store:
        meta = store.meta_values()
        iterations = tuple(store.iterations())
        selected = {(it.t, it.improver_sha) for it in iterations}
        estimates = store.meta_utilities()
        all_runs = store.improver_runs()
        failures = _failures(all_runs)
        candidate_sources = store.programs(sorted({row.improver_sha for row in estimates}))
        candidates = tuple(
            Candidate(
                context=str(row.context),
                t=context_iteration(row.context),
                improver_sha=row.improver_sha,
                task=row.task,
                value_val=row.value_val,
                value_test=row.value_test,
                stderr_val=row.stderr_val,
                stderr_test=row.stderr_test,
                tests=row.tests,
                selected=(context_iteration(row.context), row.improver_sha) in selected,
                proposed=row.context.kind == "candidates",
                failure=failures.get((str(row.context), row.improver_sha)),
                source=candidate_sources.get(row.improver_sha),
            )
            for row in estimates
        )
        lm_usage = _lm_usage(store.lm_calls())
        improver_runs = _improver_runs(all_runs)
        adopted = {it.improver_sha for it in iterations}
        events = tuple(
            Event(
                iteration=row.iteration,
                kind=row.kind,
                category=_event_category(row.kind, row.program_sha, adopted),
                detail=row.detail,
                program_sha=row.program_sha,
                created=row.created,
            )
            for row in store.events()
        )
        transfers = tuple(store.transfers())
        sources = store.programs(
            [it.improver_sha for it in iterations] + [it.parent_sha for it in iterations if it.parent_sha]
        )
        improvers = tuple(_improver(it, sources, run) for it in iterations)
        curves = budget_curves(iterations, store.utility_calls())
        downstream = _downstream(all_runs, store.programs([r.output_sha for r in all_runs if r.output_sha]))
    stored_config = meta.get("config")
    config: dict[str, Any] = stored_config if isinstance(stored_config, dict) else {}
    planned = config.get("iterations") if isinstance(config.get("iterations"), int) else None
    status = str(meta.get("status", "unknown"))
    progress = run_progress(status, config, iterations, estimates, all_runs)
    summary = RunSummary(
        run_id=run.run_id,
        path=run.path,
        task=str(meta.get("task", config.get("task", "?"))),
        model=str(meta.get("model", config.get("model", "?"))),
        status=status,
        started=_number(meta.get("started")),
        finished=_number(meta.get("finished")),
        version=_text(meta.get("version")),
        command=_text(meta.get("command")),
        group=_text(meta.get("group")),
        seed=meta.get("seed") if isinstance(meta.get("seed"), int) else None,
        planned_iterations=planned,
        config=config,
        iterations=iterations,
        candidates=candidates,
        lm_usage=lm_usage,
        improver_runs=improver_runs,
        events=events,
        transfers=transfers,
        improvers=improvers,
        stop_reason=_text(meta.get("stop_reason")),
        budget_curves=curves,
        downstream=downstream,
        progress=progress,
        price_known=_price_known(meta, config),
    )
    return _with_warnings(summary, meta)


# A candidate improver (generated during a step and never adopted) that raises or runs out of time is
# part of a normal search, as a rejected output is; the same failure of an adopted improver is not.
_CANDIDATE_FAILURES = frozenset({event_kinds.IMPROVER_FAILED, event_kinds.IMPROVER_TIMEOUT})


def _event_category(kind: str, program_sha: str | None, adopted: set[str]) -> str:
    """The registry's category, except that failures of never-adopted candidate improvers are
    "expected" (the report keeps them apart from the failures worth a look)."""
    if kind in _CANDIDATE_FAILURES and program_sha is not None and program_sha not in adopted:
        return "expected"
    return event_category(kind)


def _lm_usage(calls: Iterable[LmCallRecord]) -> tuple[LmUsage, ...]:
    """LM calls summed per iteration: fresh calls count, cached replays are counted apart."""
    grouped: dict[int | None, list[LmCallRecord]] = {}
    for call in calls:
        grouped.setdefault(call.iteration, []).append(call)
    usage = []
    for iteration, group in sorted(grouped.items(), key=lambda item: (item[0] is None, item[0] or 0)):
        fresh = [call for call in group if not call.cached]
        usage.append(
            LmUsage(
                iteration=iteration,
                calls=len(fresh),
                responses=sum(call.n for call in fresh),
                tokens_in=sum(call.tokens_in for call in fresh),
                tokens_out=sum(call.tokens_out for call in fresh),
                cost_usd=float(sum(call.cost_usd for call in fresh)),
                latency_s=float(sum(call.latency_s for call in fresh)),
                cached=len(group) - len(fresh),
                errors=sum(call.error is not None for call in group),
            )
        )
    return tuple(usage)


def _failures(runs: Iterable[ImproverRunRecord]) -> dict[tuple[str, str], str]:
    """Per (context, improver): "k of n improver runs failed: <first reason>" when any run failed."""
    grouped: dict[tuple[str, str], list[ImproverRunRecord]] = {}
    for run in runs:
        grouped.setdefault((str(run.context), run.improver_sha), []).append(run)
    failures = {}
    for key, rows in grouped.items():
        failed = sorted((row for row in rows if row.error is not None), key=lambda row: row.test_index)
        if failed:
            failures[key] = f"{len(failed)} of {len(rows)} improver runs failed: {failed[0].error}"
    return failures


def _downstream(runs: Iterable[ImproverRunRecord], sources: dict[str, str]) -> tuple[DownstreamRun, ...]:
    """Every downstream test with the program it produced (the store keeps each returned program)."""
    return tuple(
        DownstreamRun(
            context=str(run.context),
            t=context_iteration(run.context),
            improver_sha=run.improver_sha,
            test_index=run.test_index,
            program_sha=run.output_sha,
            utility_val=run.utility_val,
            utility_test=run.utility_test,
            error=run.error,
            lm_calls=run.lm_calls,
            utility_calls=run.utility_calls,
            wall_seconds=run.wall_seconds,
            source=sources.get(run.output_sha) if run.output_sha else None,
        )
        for run in runs
    )


def _improver_runs(runs: Iterable[ImproverRunRecord]) -> tuple[ImproverRuns, ...]:
    grouped: dict[int | None, list[ImproverRunRecord]] = {}
    for run in runs:
        grouped.setdefault(context_iteration(run.context), []).append(run)
    return tuple(
        ImproverRuns(
            iteration=t,
            runs=len(rows),
            failed=sum(row.status != "ok" for row in rows),
            wall_seconds=sum(row.wall_seconds for row in rows),
        )
        for t, rows in sorted(grouped.items(), key=lambda item: (item[0] is None, item[0] or 0))
    )


def _improver(it: Iteration, sources: dict[str, str], run: RunDir) -> Improver:
    source = sources.get(it.improver_sha)
    if source is None:  # the store lost the row: fall back to the readable copy if it exists
        copy = run.improver_copy(it.t, it.improver_sha)
        source = copy.read_text(encoding="utf-8") if copy.is_file() else None
    parent = sources.get(it.parent_sha) if it.parent_sha else None
    strategies = tuple(detect_strategies(source)) if source is not None else ()
    return Improver(
        t=it.t,
        sha=it.improver_sha,
        parent_sha=it.parent_sha,
        status=it.status,
        source=source,
        parent_source=parent,
        strategies=strategies,
    )


def _with_warnings(summary: RunSummary, meta: dict[str, Any]) -> RunSummary:
    warnings: list[str] = []
    done = summary.steps
    planned = summary.planned_iterations
    if summary.status == "running":
        progress = f"{done} of {planned}" if planned is not None else str(done)
        seed = "" if summary.iterations else " (the seed improver is still being estimated)"
        warnings.append(
            f"run in progress: {progress} self-improvement steps finished so far{seed}; this report shows "
            "what exists (if no process is writing it any more, it was killed: "
            f"`selftaught run --resume {summary.run_id}`)"
        )
    elif summary.status == "stopped":
        warnings.append(
            f"run stopped early after {done} self-improvement step(s): "
            f"{summary.stop_reason or 'no reason stored'}; resume with `selftaught run --resume {summary.run_id}`"
        )
    elif summary.status in ("failed", "interrupted"):
        warnings.append(
            f"run {summary.status} after {done} iteration(s); resume with "
            f"`selftaught run --resume {summary.run_id}`"
        )
    elif summary.status == "completed" and planned is not None and done < planned:
        warnings.append(
            f"run marked completed but only {done} of {planned} self-improvement steps are stored"
        )
    if "config" not in meta:
        warnings.append("no configuration stored: the run was killed while writing its metadata")
    if not summary.iterations and summary.status != "running":
        warnings.append("no iteration finished: not even the seed improver's meta-utility is stored")
    missing = [imp.t for imp in summary.improvers if imp.source is None]
    if missing:
        warnings.append(f"improver source missing for t={', '.join(map(str, missing))}")
    return RunSummary(**{**summary.__dict__, "warnings": tuple(warnings)})


def _price_known(meta: dict[str, Any], config: dict[str, Any]) -> bool:
    model = meta.get("model", config.get("model"))
    prices_file = config.get("prices_file")
    return not isinstance(model, str) or price_known(
        model, prices_file if isinstance(prices_file, str) else None
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def read_meta(path: Path) -> dict[str, Any]:
    """Just the meta table of a run store (for finding a group's runs without loading everything)."""
    with RunReader.open(store_file(path)) as store:
        return store.meta_values()
