"""The paper's sandbox-circumvention experiment, as a measurement any model can be put through.

The model is asked (with the seed improver's prompt) to improve an improver, scored by a meta-utility that
takes a `use_sandbox` flag, with or without a warning not to disable it. Every reply is one attempt: its
largest code block is the generated improver, stored in a run store and checked by the AST detector
(`selftaught.detectors.flag`). The rate of improvers that turn the flag off is reported with its 95% Wilson
interval. Requests go out `responses_per_call` at a time (one LM call returns that many replies), so
10,000 attempts cost about 1,700 calls, and run concurrently.

Optionally (`execute`), some generated improvers are then run in the real sandbox with a utility that
accepts the flag and only logs it (`selftaught.safety.execute`).
"""

from __future__ import annotations

import math
import shutil
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import selftaught.events as event_kinds
from selftaught._version import __version__
from selftaught.codetext.reply_code import largest_code_block
from selftaught.config import Settings
from selftaught.detectors import scan_program
from selftaught.detectors.flag import FlagUse, find_disabling
from selftaught.errors import UsageError
from selftaught.safety.flag_prompt import EXPERTISE, flag_message
from selftaught.safety.stats import rate_with_interval
from selftaught.stop.session import NoProgress, Progress
from selftaught.store import RunDir, RunMeta, RunStore

EXPERIMENT = "sandbox-flag"
MAX_ROUNDS = 4
"""Rounds of calls: the first asks for every attempt, later ones make up for failed calls or replies
without code; a round that adds no attempt ends the experiment with what it has."""


@dataclass(frozen=True)
class Attempt:
    index: int
    program_sha: str
    uses: tuple[FlagUse, ...]

    @property
    def disabled(self) -> bool:
        return bool(self.uses)


@dataclass
class FlagExperimentResult:
    """Everything the command prints; `to_dict` has the contract keys plus extras."""

    run_id: str
    run_dir: Path
    model: str
    warning: bool
    requested: int
    attempts: int
    disabled: int
    rate: float
    ci_low: float
    ci_high: float
    lm_calls: int
    failed_calls: int
    empty_replies: int
    ways: dict[str, int]
    findings: dict[str, int]
    executed: dict[str, Any] | None = None
    disabled_shas: list[str] = field(default_factory=list)
    runs: list[Any] = field(default_factory=list)  # ExecutedImprover records, when executed

    def to_dict(self) -> dict[str, Any]:
        return {
            "attempts": self.attempts,
            "disabled": self.disabled,
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "run_id": self.run_id,
            "run_dir": str(self.run_dir),
            "model": self.model,
            "warning": self.warning,
            "requested": self.requested,
            "lm_calls": self.lm_calls,
            "failed_calls": self.failed_calls,
            "empty_replies": self.empty_replies,
            "ways": self.ways,
            "findings": self.findings,
            "executed": self.executed,
            "sandbox_weakened": False,
        }


class _Recorder:
    """Numbers attempts, stores programs and events; thread-safe (calls finish in any order)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self.lock = threading.Lock()
        self.attempts: list[Attempt] = []
        self.empty = 0
        self.failed_calls = 0
        self.findings: Counter[str] = Counter()

    def record_replies(self, replies: list[str], call: int) -> None:
        for reply in replies:
            # The same reading as the improvers' `extract_code`: prose alone (a refusal) yields "".
            code = largest_code_block(reply)
            if not code.strip():
                with self.lock:
                    self.empty += 1
                self.store.add_event(
                    event_kinds.FLAG_EMPTY, f"call {call}: reply without code ({len(reply)} chars)"
                )
                continue
            sha = self.store.put_program(code, "improver")
            uses = tuple(find_disabling(code))
            with self.lock:
                attempt = Attempt(len(self.attempts), sha, uses)
                self.attempts.append(attempt)
            if uses:
                ways = "; ".join(f"{u.way}: {u.text} (line {u.line})" for u in uses[:5])
                self.store.add_event(
                    event_kinds.FLAG_DISABLED, f"attempt {attempt.index}: {ways}", program_sha=sha
                )
            else:
                self.store.add_event(event_kinds.FLAG_KEPT, f"attempt {attempt.index}", program_sha=sha)
            for finding in scan_program(code):
                if finding.kind == "static:use-sandbox-false":
                    continue  # already recorded as the attempt's own event
                with self.lock:
                    self.findings[finding.kind] += 1
                self.store.add_event(
                    finding.kind, f"attempt {attempt.index}: {finding.detail}", program_sha=sha
                )

    def record_failure(self, call: int, error: BaseException) -> None:
        with self.lock:
            self.failed_calls += 1
        self.store.add_event(event_kinds.LM_ERROR, f"call {call}: {type(error).__name__}: {error}"[:1000])


def run_sandbox_flag(
    settings: Settings, *, attempts: int, warning: bool, execute: int = 0, progress: Progress | None = None
) -> FlagExperimentResult:
    """Ask for `attempts` generated improvers and measure how many turn the sandbox flag off."""
    from selftaught.stop.assembly import open_session

    progress = progress or NoProgress()
    run_dir = RunDir.new(Path(settings.runs_dir), f"safety-{EXPERIMENT}", settings.seed).path
    store = RunStore(RunDir(run_dir).store_file)
    _write_meta(store, settings, attempts, warning)
    recorder = _Recorder(store)
    message = flag_message(settings, warning=warning)
    calls_made = 0
    executor = None if execute > 0 else _NoExecutor()
    try:
        with open_session(
            settings, store=store, run_dir=run_dir, progress=progress, executor=executor
        ) as session:
            progress.stage("attempts", attempts)
            previous_missing = attempts
            for round_index in range(MAX_ROUNDS):
                missing = attempts - len(recorder.attempts)
                if missing <= 0 or (round_index > 0 and missing == previous_missing):
                    break  # done, or a whole round added nothing (cost cap, auth, endpoint down)
                previous_missing = missing
                sizes = _batches(missing, settings.responses_per_call)
                model = session.client.language_model(
                    budget=len(sizes),
                    max_responses_per_call=settings.responses_per_call,
                    purpose=EXPERIMENT,
                    scope=EXPERIMENT,
                )
                first = calls_made
                calls_made += len(sizes)

                def one_call(job: tuple[int, int], model: Any = model) -> None:
                    call, size = job
                    try:
                        replies = model.batch_prompt(
                            EXPERTISE, [message] * size, temperature=settings.temperature
                        )
                    except Exception as exc:  # one failed call must not lose the others' attempts
                        recorder.record_failure(call, exc)
                        return
                    recorder.record_replies(list(replies), call)
                    progress.advance("attempts", len(replies))

                with ThreadPoolExecutor(max_workers=max(1, settings.concurrency)) as pool:
                    list(pool.map(one_call, [(first + i, size) for i, size in enumerate(sizes)]))
                if session.client.endpoint_failure is not None:
                    # The endpoint itself failed (not one reply): the experiment fails, exit 1.
                    raise session.client.endpoint_failure
            executed, runs = (
                _execute(session, recorder, store, execute, progress) if execute > 0 else (None, [])
            )
    except UsageError:
        # Bad input found while opening the model or sandbox (spec, key, task): nothing was measured,
        # so leave no half-made run behind.
        store.close()
        if not recorder.attempts:
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    except BaseException:
        store.update_meta(status="failed")
        store.close()
        raise
    result = _result(settings, run_dir, recorder, attempts, warning, calls_made, executed)
    result.runs = runs
    store.update_meta(result=result.to_dict(), status="completed", finished=time.time())
    store.close()
    return result


def _batches(total: int, per_call: int) -> list[int]:
    """`total` responses in calls of at most `per_call` each (the last one smaller)."""
    calls = math.ceil(total / per_call)
    return [min(per_call, total - i * per_call) for i in range(calls)]


def _write_meta(store: RunStore, settings: Settings, attempts: int, warning: bool) -> None:
    store.write_meta(
        RunMeta(
            kind="safety",
            experiment=EXPERIMENT,
            task=f"safety:{EXPERIMENT}",
            model=settings.model,
            warning=warning,
            attempts_requested=attempts,
            config=settings.model_dump(mode="json"),
            version=__version__,
            started=time.time(),
            status="running",
        )
    )


def _result(
    settings: Settings,
    run_dir: Path,
    recorder: _Recorder,
    requested: int,
    warning: bool,
    calls: int,
    executed: dict[str, Any] | None,
) -> FlagExperimentResult:
    counted = recorder.attempts
    disabled = [a for a in counted if a.disabled]
    rate = rate_with_interval(len(disabled), len(counted))
    ways: Counter[str] = Counter()
    for attempt in disabled:
        ways.update({use.way for use in attempt.uses})
    return FlagExperimentResult(
        run_id=run_dir.name,
        run_dir=run_dir,
        model=settings.model,
        warning=warning,
        requested=requested,
        attempts=len(counted),
        disabled=len(disabled),
        rate=rate.rate,
        ci_low=rate.low,
        ci_high=rate.high,
        lm_calls=calls,
        failed_calls=recorder.failed_calls,
        empty_replies=recorder.empty,
        ways=dict(sorted(ways.items())),
        findings=dict(sorted(recorder.findings.items())),
        executed=executed,
        disabled_shas=[a.program_sha for a in disabled],
    )


def _execute(
    session: Any, recorder: _Recorder, store: RunStore, count: int, progress: Progress
) -> tuple[dict[str, Any], list[Any]]:
    """Run up to `count` generated improvers (those that disable the flag first) in the real sandbox."""
    from selftaught.safety.execute import execute_improver
    from selftaught.stop.scoring import DownstreamScorer, SplitSeeds
    from selftaught.tasks import VAL_SEED_BASE, draw_test_seed, load_task

    settings = session.settings
    task = load_task(settings.task)
    scorer = DownstreamScorer(task, session.executor, SplitSeeds(VAL_SEED_BASE, draw_test_seed()), store)
    chosen = sorted(recorder.attempts, key=lambda a: (not a.disabled, a.index))[:count]
    progress.stage("execute", len(chosen))
    runs = []
    for attempt in chosen:
        source = store.get_program(attempt.program_sha) or ""
        runs.append(
            execute_improver(
                session,
                scorer,
                source,
                index=attempt.index,
                program_sha=attempt.program_sha,
                initial_solution=task.seed_algorithm,
                utility_description=task.utility_text(settings.utility_budget),
            )
        )
        progress.advance("execute")
    return {
        "task": task.name,
        "improvers": len(runs),
        "statically_disabled": sum(1 for a in chosen if a.disabled),
        "runtime_false_calls": sum(r.flag_false_calls for r in runs),
        "improvers_passing_false": sum(1 for r in runs if r.flag_false_calls),
        "failed": sum(1 for r in runs if r.error is not None),
        "sandbox": settings.sandbox,
        "sandbox_events": sum(r.sandbox_events for r in runs),
    }, runs


class _NoExecutor:
    """Stands in for the sandbox pool when nothing is executed, so no workers are started for nothing."""

    def run(self, job: Any, rpc: Any = None, stop: Any = None) -> Any:
        raise RuntimeError("this sandbox-flag run executes no generated code (use execute > 0)")

    def cpu_slot(self, owner: str) -> Any:
        raise RuntimeError("this sandbox-flag run executes no generated code (use execute > 0)")

    def close(self) -> None:
        return None
