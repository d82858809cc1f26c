"""The Python API: what the CLI does, for notebooks and scripts, returning plain dataclasses.

    import selftaught
    result = selftaught.improve("three_sat", improver="greedy")
    run = selftaught.self_improve(task="parity_noise", iterations=2, tests=3)

Each function accepts a `Settings` or keyword overrides of its fields (the CLI flag names), opens what it
needs (sandbox pool, model client, run store) and closes it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from selftaught.config import Settings
from selftaught.errors import UsageError
from selftaught.improvers import load_improver
from selftaught.stop.assembly import check_endpoint, open_session, resolve_settings
from selftaught.stop.improver_run import run_improver_scored
from selftaught.stop.meta_utility import MetaUtility
from selftaught.stop.results import ImproveResult, MetaEvalResult
from selftaught.stop.run import RunStarted, run_once, self_improve
from selftaught.stop.runs import RunResult
from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
from selftaught.stop.session import Progress
from selftaught.stop.transfer import check_same_protocol, transfer_improvers, transfer_table
from selftaught.store import Context, RunDir, RunStore, TransferCell
from selftaught.tasks import VAL_SEED_BASE, Task, list_tasks, load_task
from selftaught.tasks.evaluation import refuse_other_scoring
from selftaught.tasks.openevolve import OpenEvolveTask
from selftaught.tasks.scoring_protocol import default_test_seed

__all__ = [
    "ImproveResult",
    "MetaEvalResult",
    "RunResult",
    "RunStarted",
    "improve",
    "meta_utility",
    "open_session",
    "run_once",
    "self_improve",
    "transfer",
]


def improve(
    task: str,
    *,
    program: str | None = None,
    improver: str = "seed",
    settings: Settings | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> ImproveResult:
    """Run an improver once on a program (default: the task's seed algorithm) and score before/after."""
    settings = resolve_settings(settings, overrides)
    task_obj = load_task(task, settings.protocol)
    improver_source = load_improver(improver)
    if program is not None:
        problem = task_obj.check_program(program)
        if problem is not None:
            raise UsageError(f"the program to improve cannot run on {task_obj.name}: {problem}")
    initial = program if program is not None else task_obj.seed_algorithm
    test_seed = settings.test_seed if settings.test_seed is not None else default_test_seed(settings.protocol)
    events: list[tuple[str, str]] = []
    with open_session(settings, progress=progress) as session:
        session.on_event = lambda kind, detail, _sha: events.append((kind, detail))
        scorer = DownstreamScorer(task_obj, session.executor, SplitSeeds(VAL_SEED_BASE, test_seed), None)
        before = scorer.utility(initial, "val")
        outcome = run_improver_scored(
            session,
            improver_source,
            initial,
            score=lambda source: scorer.utility(source, "val"),
            description=task_obj.utility_text(settings.utility_budget),
            purpose="improve",
            timeout=settings.improver_timeout,
            events=session.event_sink(None),
            label=f"improve {task_obj.name}",
        )
        check_endpoint(session)
        final = outcome.program if outcome.program is not None else initial
        return ImproveResult(
            task=task_obj.name,
            improver=improver,
            utility_before=before,
            utility_after=scorer.utility(final, "val"),
            utility_before_test=scorer.utility(initial, "test"),
            utility_after_test=scorer.utility(final, "test"),
            lm_calls=outcome.lm_calls,
            utility_calls=outcome.utility_calls,
            program=final,
            error=outcome.error,
            events=events,
            full_program=_full_program(task_obj, final),
        )


def _full_program(task_obj: Task, program: str) -> str:
    """The whole file for `program`: OpenEvolve tasks evolve one block, spliced back into its file."""
    return task_obj.program.splice(program) if isinstance(task_obj, OpenEvolveTask) else program


def meta_utility(
    improver: str = "seed",
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> MetaEvalResult:
    """Estimate an improver's meta-utility on `settings.task` (validation and test)."""
    settings = resolve_settings(settings, overrides)
    task_obj = load_task(settings.task, settings.protocol)
    source = load_improver(improver)
    test_seed = settings.test_seed if settings.test_seed is not None else default_test_seed(settings.protocol)
    with open_session(settings, progress=progress) as session:
        scorer = DownstreamScorer(task_obj, session.executor, SplitSeeds(VAL_SEED_BASE, test_seed), None)
        session.progress.stage("test", settings.tests)
        result = MetaUtility(session, scorer, Context.meta_eval()).evaluate(source)
        check_endpoint(session)
        usage = session.usage
        return MetaEvalResult(
            improver, result, usage.calls, usage.tokens_in, usage.tokens_out, usage.cost_usd
        )


def transfer(
    source: str,
    *,
    tasks: list[str] | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> list[TransferCell]:
    """Evaluate a run's improvers (or one improver file) on other tasks: the paper's transfer table.

    For a run, the table is also stored in the run (table `transfers`), where reports show it.
    """
    settings = resolve_settings(settings, overrides)
    is_file = Path(source).suffix == ".py" or Path(source).is_file()
    store = None if is_file else RunStore.open_existing(RunDir.existing(settings.runs_dir, source).store_file)
    try:
        improvers = transfer_improvers(source, store)
        meta = None if store is None else store.meta()
        check_same_protocol(source, meta, settings.protocol)
        if meta is not None:  # it reuses the run's stored improver runs: same scoring version only
            refuse_other_scoring(source, meta.scoring_version)
        origin_task = None if meta is None else meta.task
        names = tasks or [
            task.name for task in list_tasks(settings.protocol, paper_only=True) if task.name != origin_task
        ]
        # A run's transfer uses the run's own secret test seed, so stored improver runs stay comparable.
        stored_seed = None if meta is None else meta.test_seed
        test_seed = next((seed for seed in (settings.test_seed, stored_seed) if seed is not None), None)
        if test_seed is None:
            test_seed = default_test_seed(settings.protocol)
        with open_session(settings, store=store, progress=progress) as session:
            scorers = {
                name: DownstreamScorer(
                    load_task(name, settings.protocol),
                    session.executor,
                    SplitSeeds(VAL_SEED_BASE, test_seed),
                    None,
                )
                for name in names
            }
            table = transfer_table(session, scorers, improvers)
            check_endpoint(session)
            return table
    finally:
        if store is not None:
            store.close()
