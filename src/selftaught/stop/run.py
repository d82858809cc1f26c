"""Self-improvement runs: one run from its start (or its store, resumed) to its end, and `--seeds` replicates.

The run's status is written however it ends (completed, stopped, failed, interrupted), and its directory
exists only once its settings have been checked, so a typo leaves no failed run behind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from selftaught.config import Settings
from selftaught.errors import UsageError
from selftaught.executors import make_executor
from selftaught.improvers import load_improver
from selftaught.sandbox.executor import Executor
from selftaught.stop.assembly import check_settings, model_spec, open_session, resolve_settings
from selftaught.stop.best_program import write_best_program
from selftaught.stop.loop import SelfImprovement
from selftaught.stop.resume import check_resume, resumed_settings, stored_seed_improver
from selftaught.stop.run_meta import new_run_meta
from selftaught.stop.runs import RunResult, new_run_id
from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
from selftaught.stop.session import NoProgress, Progress, RunFailed, RunStopped
from selftaught.store import RunDir, RunStatus, RunStore
from selftaught.tasks import VAL_SEED_BASE, load_task
from selftaught.tasks.evaluation import refuse_other_scoring
from selftaught.tasks.registry import absolute_task

RunStarted = Callable[[str, Path, str | None], None]
"""Called with (run id, run directory, group id) as soon as a run's directory exists."""


def run_once(
    settings: Settings,
    *,
    replicate: int = 0,
    group: str | None = None,
    resume: str | None = None,
    extend_to: int | None = None,
    resume_overrides: dict[str, Any] | None = None,
    progress: Progress | None = None,
    executor: Executor | None = None,
    on_start: RunStarted | None = None,
) -> RunResult:
    """One self-improvement run (new, or resumed from its store with its stored settings).

    `extend_to` lets a resumed run go on to more iterations than it was started with;
    `resume_overrides` may change the operational settings in `RESUME_OVERRIDABLE` (e.g. a higher
    `max_cost` after the cap stopped the run).
    """
    if resume is not None:
        run_dir = RunDir.existing(settings.runs_dir, resume).path
        store = RunStore.open_existing(RunDir(run_dir).store_file)
        meta = store.meta()
        if meta.config is None:
            store.close()
            raise UsageError(
                f"run {resume!r} has no stored configuration (it was killed while starting); start it again"
            )
        refuse_other_scoring(resume, meta.scoring_version, store.close)
        settings = resumed_settings(settings, meta, run_dir, extend_to, resume_overrides or {})
        store.update_meta(config=settings.model_dump(mode="json"), stop_reason=None)
        replicate = meta.replicate
    else:
        run_dir = RunDir.new(settings.runs_dir, settings.task, settings.seed + replicate).path
        store = RunStore(RunDir(run_dir).store_file)
        store.write_meta(new_run_meta(settings, replicate, group))
    task_obj = load_task(settings.task, settings.protocol)
    seed_improver = load_improver(settings.improver) if resume is None else ""
    store_started = store.update_meta(status="running").started
    if on_start is not None:
        on_start(run_dir.name, run_dir, group)
    status: RunStatus = "failed"
    stop_reason: str | None = None
    try:
        with open_session(
            settings, store=store, run_dir=run_dir, replicate=replicate, progress=progress, executor=executor
        ) as session:
            seeds = SplitSeeds(VAL_SEED_BASE, int(store.meta().test_seed or 0))
            scorer = DownstreamScorer(
                task_obj,
                session.executor,
                seeds,
                store,
                findings=lambda kind, detail, sha: session.event(kind, detail, sha),
            )
            loop = SelfImprovement(session, scorer, run_dir)
            try:
                iterations = loop.run(seed_improver or stored_seed_improver(store), settings.iterations)
                status = "completed"
            except RunStopped as stopped:
                iterations = loop.iterations()
                status = "failed" if isinstance(stopped, RunFailed) else "stopped"
                stop_reason = str(stopped)
                store.update_meta(stop_reason=stop_reason)
            write_best_program(store, run_dir, iterations)
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        store.update_meta(status=status, finished=time.time())
        store.close()
    return RunResult(
        run_dir.name,
        run_dir,
        task_obj.name,
        model_spec(settings, replicate),  # as stored and listed ("offline:0", not "offline")
        status,
        iterations,
        stop_reason,
        group,
        store_started,
    )


def self_improve(
    settings: Settings | None = None,
    *,
    resume: str | None = None,
    extend_to: int | None = None,
    resume_overrides: dict[str, Any] | None = None,
    progress: Progress | None = None,
    on_start: RunStarted | None = None,
    **overrides: Any,
) -> list[RunResult]:
    """`settings.seeds` independent runs (one when resuming), sharing one sandbox pool.

    Several seeds run concurrently (they share nothing but the pool, which schedules CPU-bound
    evaluations one per core); progress then counts finished runs instead of showing each run's bars.
    """
    settings = resolve_settings(settings, overrides)
    if resume is None:  # stored absolute, so the run resumes from any working directory
        settings = settings.model_copy(update={"task": absolute_task(settings.task, Path.cwd())})
    replicates = 1 if resume is not None else settings.seeds
    last_seed = settings.seed + replicates - 1
    group = f"group-{new_run_id(settings.task, settings.seed, last_seed)}" if replicates > 1 else None
    if resume is not None:
        check_resume(settings.runs_dir, resume, resume_overrides or {})
    else:  # settings that cannot work are refused before a run directory or a sandbox pool exists
        check_settings(settings)
    executor = make_executor(settings)
    try:
        if replicates == 1:
            return [
                run_once(
                    settings,
                    group=group,
                    resume=resume,
                    extend_to=extend_to,
                    resume_overrides=resume_overrides,
                    progress=progress,
                    executor=executor,
                    on_start=on_start,
                )
            ]
        return _concurrent_runs(settings, replicates, group, progress or NoProgress(), executor, on_start)
    finally:
        executor.close()


def _concurrent_runs(
    settings: Settings,
    replicates: int,
    group: str | None,
    progress: Progress,
    executor: Executor,
    on_start: RunStarted | None = None,
) -> list[RunResult]:
    progress.stage("run", replicates)

    def one(k: int) -> RunResult:
        result = run_once(settings, replicate=k, group=group, executor=executor, on_start=on_start)
        progress.advance("run")
        return result

    with ThreadPoolExecutor(max_workers=min(replicates, 4), thread_name_prefix="replicate") as pool:
        return list(pool.map(one, range(replicates)))
