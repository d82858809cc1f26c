"""The Python API: what the CLI does, for notebooks and scripts, returning plain dataclasses.

    import selftaught
    result = selftaught.improve("three_sat", improver="greedy")
    run = selftaught.self_improve(task="parity_noise", iterations=2, tests=3)

Each function accepts a `Settings` or keyword overrides of its fields (the CLI flag names), opens what it
needs (sandbox pool, model client, run store) and closes it again.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selftaught import events as event_kinds
from selftaught._version import __version__
from selftaught.config import Settings, load_settings
from selftaught.errors import UsageError
from selftaught.executors import make_executor
from selftaught.improvers import load_improver
from selftaught.lm import ModelSettings, open_model, parse_spec
from selftaught.lm.client import check_model
from selftaught.lm.preflight import needs_preflight, preflight
from selftaught.sandbox.executor import Executor
from selftaught.stop.best_program import write_best_program
from selftaught.stop.improver_run import run_improver_scored
from selftaught.stop.loop import SelfImprovement
from selftaught.stop.meta_utility import MetaUtility, MetaUtilityResult
from selftaught.stop.runs import RunResult, new_run_id
from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
from selftaught.stop.session import NoProgress, Progress, RunFailed, RunStopped, Session
from selftaught.stop.transfer import transfer_table
from selftaught.store import (
    Context,
    ImproverRunRecord,
    LmCallRecord,
    RunDir,
    RunMeta,
    RunReader,
    RunStatus,
    RunStore,
    TransferCell,
    sha256,
)
from selftaught.tasks import VAL_SEED_BASE, list_tasks, load_task
from selftaught.tasks.evaluation import SCORING_VERSION, refuse_other_scoring
from selftaught.tasks.openevolve import EvolveBlock
from selftaught.tasks.protocol import default_test_seed
from selftaught.tasks.registry import absolute_task, stored_task


def _settings(settings: Settings | None, overrides: dict[str, Any]) -> Settings:
    if settings is None:
        return load_settings(overrides)
    return settings.model_copy(update=overrides) if overrides else settings


def _model_spec(settings: Settings, replicate: int) -> str:
    """The offline model is seeded by the run seed (and replicate) unless the spec fixes a seed."""
    if settings.model == "offline":
        return f"offline:{settings.seed + replicate}"
    return settings.model


def model_settings(settings: Settings, **extra: Any) -> ModelSettings:
    """The model client's settings from a run's: one retry policy for runs, the preflight and `doctor`."""
    return ModelSettings(
        api_key_env=settings.api_key_env,
        max_tokens=settings.max_tokens,
        timeout=settings.request_timeout,
        concurrency=settings.concurrency,
        max_retries=settings.max_retries,
        max_cost=settings.max_cost,
        prices_file=settings.prices_file,
        **extra,
    )


MODEL_WHERE = "--model (selftaught.toml: lm.model)"


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work before anything is created (no run directory, no sandbox):
    an unknown task or improver, a malformed model spec, a missing API key, a cost cap on a model
    with no known price. Each error is one line naming the flag and the file key."""
    _named("--task (selftaught.toml: run.task)", lambda: load_task(settings.task, settings.protocol))
    _named("--improver (selftaught.toml: run.improver)", lambda: load_improver(settings.improver))
    _named(MODEL_WHERE, lambda: parse_spec(settings.model))
    check_model(_model_spec(settings, 0), model_settings(settings, cache_mode="off"))


def _named(where: str, check: Callable[[], object]) -> None:
    """Run `check`; its `UsageError` says which flag and file key the wrong value came from."""
    try:
        check()
    except UsageError as exc:
        raise UsageError(f"{where}: {exc}") from None


@contextmanager
def open_session(
    settings: Settings,
    *,
    store: RunStore | None = None,
    run_dir: Path | None = None,
    replicate: int = 0,
    progress: Progress | None = None,
    executor: Executor | None = None,
) -> Iterator[Session]:
    """Open executor (unless given), model client and store bindings for one computation."""
    own_executor = executor is None
    active_executor = executor if executor is not None else make_executor(settings)
    holder: dict[str, Session] = {}

    def record(call: Any) -> None:
        session = holder.get("session")
        if session is None:
            return
        session.usage.add(call)
        if session.store is not None:
            session.store.add_lm_call(
                LmCallRecord(
                    iteration=session.iteration,
                    purpose=call.purpose,
                    model=call.model,
                    n=call.n,
                    temperature=call.temperature,
                    tokens_in=call.tokens_in,
                    tokens_out=call.tokens_out,
                    latency_s=call.latency_s,
                    cost_usd=call.cost_usd,
                    cached=bool(call.cached),
                    error=call.error,
                )
            )

    try:
        client = open_model(
            _model_spec(settings, replicate),
            model_settings(
                settings,
                cache_path=RunDir(run_dir).lm_cache_file if run_dir is not None else None,
                cache_mode=settings.cache if run_dir is not None else "off",
                recorder=record,
            ),
        )
        try:
            # A dead endpoint, key or model fails here, in seconds (not counted anywhere).
            checked = preflight(client) if settings.preflight and needs_preflight(client) else None
            session = Session(
                settings=settings,
                executor=active_executor,
                client=client,
                store=store,
                progress=progress or NoProgress(),
            )
            if checked is not None and checked.warning:
                session.event(event_kinds.LM_PREFLIGHT, checked.warning)
            holder["session"] = session
            yield session
        finally:
            client.close()
    finally:
        if own_executor:
            active_executor.close()


def _check_endpoint(session: Session) -> None:
    """Raise the model endpoint's failure, if one happened: the result computed around it is not a
    measurement (every later LM call failed at once), so the command fails (exit 1) instead."""
    failure = getattr(session.client, "endpoint_failure", None)
    if failure is not None:
        raise failure


# --- improve -----------------------------------------------------------------------------------------
@dataclass
class ImproveResult:
    task: str
    improver: str
    utility_before: float
    utility_after: float
    utility_before_test: float
    utility_after_test: float
    lm_calls: int
    utility_calls: int
    program: str
    error: str | None
    events: list[tuple[str, str]] = field(default_factory=list)
    full_program: str = ""  # the whole file (differs from `program` for OpenEvolve EVOLVE-BLOCK tasks)

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "improver": self.improver,
            "utility_before": self.utility_before,
            "utility_after": self.utility_after,
            "utility_before_test": self.utility_before_test,
            "utility_after_test": self.utility_after_test,
            "lm_calls": self.lm_calls,
            "utility_calls": self.utility_calls,
            "program": self.program,
            "error": self.error,
            "events": [{"kind": kind, "detail": detail} for kind, detail in self.events],
        }


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
    settings = _settings(settings, overrides)
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
        _check_endpoint(session)
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


def _full_program(task_obj: Any, program: str) -> str:
    """The whole file for `program`: OpenEvolve tasks evolve one block, spliced back into its file."""
    block = getattr(task_obj, "program", None)
    return block.splice(program) if isinstance(block, EvolveBlock) else program


# --- meta-utility ------------------------------------------------------------------------------------
@dataclass
class MetaEvalResult:
    improver: str
    result: MetaUtilityResult
    lm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float

    def to_json(self) -> dict[str, Any]:
        r = self.result
        return {
            "improver": self.improver,
            "task": r.task,
            "improver_sha": r.improver_sha,
            "meta_utility": r.meta_utility,
            "meta_utility_test": r.meta_utility_test,
            "stderr_val": r.stderr_val,
            "stderr_test": r.stderr_test,
            "tests": len(r.tests),
            "per_test": [_test_json(test) for test in r.tests],
            "lm_calls": self.lm_calls,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
        }


def _test_json(test: ImproverRunRecord) -> dict[str, Any]:
    """One test of a meta-utility estimate, in meta-eval's JSON shape."""
    return {
        "index": test.test_index,
        "program_sha": test.output_sha,
        "error": test.error,
        "utility_val": test.utility_val,
        "utility_test": test.utility_test,
        "lm_calls": test.lm_calls,
        "utility_calls": test.utility_calls,
        "wall_seconds": test.wall_seconds,
    }


def meta_utility(
    improver: str = "seed",
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    **overrides: Any,
) -> MetaEvalResult:
    """Estimate an improver's meta-utility on `settings.task` (validation and test)."""
    settings = _settings(settings, overrides)
    task_obj = load_task(settings.task, settings.protocol)
    source = load_improver(improver)
    test_seed = settings.test_seed if settings.test_seed is not None else default_test_seed(settings.protocol)
    with open_session(settings, progress=progress) as session:
        scorer = DownstreamScorer(task_obj, session.executor, SplitSeeds(VAL_SEED_BASE, test_seed), None)
        session.progress.stage("test", settings.tests)
        result = MetaUtility(session, scorer, Context.meta_eval()).evaluate(source)
        _check_endpoint(session)
        usage = session.usage
        return MetaEvalResult(
            improver, result, usage.calls, usage.tokens_in, usage.tokens_out, usage.cost_usd
        )


# --- self-improvement ---------------------------------------------------------------------------------
def _command_line() -> str:
    return " ".join(shlex.quote(part) for part in ["selftaught", *sys.argv[1:]])


# What a resumed run may change: how it runs, never what it computes.
RESUME_OVERRIDABLE = frozenset(
    {
        "max_cost",
        "sandbox",
        "workers",
        "executor",
        "ray_address",
        "api_key_env",
        "concurrency",
        "request_timeout",
        "max_retries",
        "prices_file",
        "preflight",
    }
)


RunStarted = Callable[[str, Path, str | None], None]
"""Called with (run id, run directory, group id) as soon as a run's directory exists."""


def check_resume(runs_dir: Path, run_id: str, overrides: dict[str, Any]) -> None:
    """Refuse a resume that would change what the run computes (only `RESUME_OVERRIDABLE` may change).

    Silently ignoring `--tests 3` on a run started with 5 would mix two experiments in one store.
    """
    reader = RunReader.open(RunDir.existing(runs_dir, run_id).store_file)
    try:
        config = reader.meta().config
    finally:
        reader.close()
    if config is None:
        return  # run_once says why such a run cannot be resumed
    stored = Settings(**config)
    changed = [
        key
        for key, value in overrides.items()
        if key not in RESUME_OVERRIDABLE
        and key not in ("iterations", "runs_dir")
        and value is not None
        and value != getattr(stored, key, value)
    ]
    if changed:
        key = changed[0]
        allowed = ", ".join("--" + name.replace("_", "-") for name in sorted(RESUME_OVERRIDABLE))
        raise UsageError(
            f"--resume continues run {run_id} with its stored settings: --{key.replace('_', '-')} "
            f"{overrides[key]} differs from the run's {getattr(stored, key)} (a resume may change only "
            f"{allowed} and raise --iterations; selftaught.toml is not re-read)"
        )


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
        stored = Settings(**meta.config)
        # Old runs stored a task directory as typed: resolve it where the run started.
        bases = [Path(meta.workdir)] if meta.workdir else []
        bases += [run_dir.parent.parent, Path.cwd()]  # the directory holding runs/, then here
        stored = stored.model_copy(update={"task": stored_task(stored.task, bases)})
        update: dict[str, Any] = {
            key: value for key, value in (resume_overrides or {}).items() if key in RESUME_OVERRIDABLE
        }
        update.update(iterations=max(stored.iterations, extend_to or 0), runs_dir=settings.runs_dir)
        settings = stored.model_copy(update=update)
        store.update_meta(config=settings.model_dump(mode="json"), stop_reason=None)
        replicate = meta.replicate
    else:
        run_dir = RunDir.new(settings.runs_dir, settings.task, settings.seed + replicate).path
        store = RunStore(RunDir(run_dir).store_file)
        _write_run_meta(store, settings, replicate, group)
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
                iterations = loop.run(seed_improver or _stored_seed_improver(store), settings.iterations)
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
        _model_spec(settings, replicate),  # as stored and listed ("offline:0", not "offline")
        status,
        iterations,
        stop_reason,
        group,
        store_started,
    )


def _write_run_meta(store: RunStore, settings: Settings, replicate: int, group: str | None) -> None:
    test_seed = settings.test_seed if settings.test_seed is not None else default_test_seed(settings.protocol)
    store.write_meta(
        RunMeta(
            kind="self-improvement",
            task=settings.task,
            model=_model_spec(settings, replicate),
            status="running",
            config=settings.model_dump(mode="json"),
            version=__version__,
            command=_command_line(),
            started=time.time(),
            group=group,
            seed=settings.seed + replicate,
            replicate=replicate,
            test_seed=test_seed,
            scoring_version=SCORING_VERSION,
            workdir=str(Path.cwd()),
        )
    )


def _stored_seed_improver(store: RunStore) -> str:
    first = next((it for it in store.iterations() if it.t == 0), None)
    if first is not None:
        source = store.get_program(first.improver_sha)
        if source is not None:
            return source
    config = Settings(**(store.meta().config or {}))
    return load_improver(config.improver)


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
    settings = _settings(settings, overrides)
    if resume is None:  # stored absolute, so the run resumes from any working directory
        settings = settings.model_copy(update={"task": absolute_task(settings.task, Path.cwd())})
    replicates = 1 if resume is not None else settings.seeds
    group = f"group-{new_run_id(settings.task, settings.seed)}" if replicates > 1 else None
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


# --- transfer ------------------------------------------------------------------------------------------
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
    settings = _settings(settings, overrides)
    is_file = Path(source).suffix == ".py" or Path(source).is_file()
    store = None if is_file else RunStore.open_existing(RunDir.existing(settings.runs_dir, source).store_file)
    try:
        improvers = _transfer_improvers(source, store)
        meta = None if store is None else store.meta()
        _check_same_protocol(source, meta, settings.protocol)
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
            _check_endpoint(session)
            return table
    finally:
        if store is not None:
            store.close()


def _check_same_protocol(source: str, meta: RunMeta | None, protocol: str) -> None:
    """A run's transfer reuses the improver runs stored under that run's protocol and test seed: scoring
    it under the other protocol would mix the two protocols' numbers in one table."""
    if meta is None:
        return
    run_protocol = (meta.config or {}).get("protocol", "strict")
    if run_protocol != protocol:
        raise UsageError(
            f"run {source} was scored under --protocol {run_protocol}; transfer it with "
            f"--protocol {run_protocol}, or transfer an improver file from its improvers/ folder"
        )


def _transfer_improvers(source: str, store: RunReader | None) -> list[tuple[str, str]]:
    """[(label, improver source)]: the seed improver first, then the run's distinct improvers or the file."""
    seed = ("seed improver", load_improver("seed"))
    if store is None:
        return [seed, (Path(source).name, load_improver(source))]
    seen = {sha256(seed[1])}
    improvers = [seed]
    for iteration in store.iterations():
        if iteration.improver_sha in seen:
            continue
        seen.add(iteration.improver_sha)
        program = store.get_program(iteration.improver_sha)
        if program is not None:
            improvers.append((f"t={iteration.t}", program))
    return improvers
