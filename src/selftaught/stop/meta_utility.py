"""The meta-utility û(I): how well the programs an improver returns do downstream.

Run the improver `tests` times on the task's seed algorithm, each time with a fresh LM budget and a
fresh downstream-utility budget, and average the validation utility of what it returns. The same
outputs are also scored on the secret test split, which is only reported, never optimised.

Each improver run is recorded (`improver_runs`) under a *context* (which step asked for it); a resumed
run finds the finished ones and does not run them again.
"""

from __future__ import annotations

import statistics
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from selftaught.estimates import standard_error
from selftaught.failure import Failure, FailureKind
from selftaught.sandbox import seeding
from selftaught.stop.capabilities import SpentCall
from selftaught.stop.improver_run import run_improver_scored
from selftaught.stop.scoring import DownstreamScorer
from selftaught.stop.session import Session
from selftaught.store import Context, ImproverRunRecord, MetaUtilityRecord, sha256

MAX_CONCURRENT_TESTS = 16  # improver runs of one estimate in flight (the sandbox pool queues the rest)


@dataclass
class MetaUtilityResult:
    improver_sha: str
    task: str
    meta_utility: float  # validation mean: what self-improvement optimises
    meta_utility_test: float
    stderr_val: float
    stderr_test: float
    tests: list[ImproverRunRecord] = field(default_factory=list)  # one per test, as stored


def _raised(error: str | None) -> bool:
    """Whether an improver run failed the way the original's selection rule zeroes a candidate for: it
    raised (or was stopped). Returning nothing usable only cost that one test there, as here."""
    return error is not None and Failure.parse(error).kind is not FailureKind.BAD_RETURN


class MetaUtility:
    """`meta_utility(improver_source) -> float` for one task within one session and context."""

    def __init__(
        self,
        session: Session,
        scorer: DownstreamScorer,
        context: Context,
        *,
        any_failure_zeroes: bool = False,
        tests: int | None = None,
    ) -> None:
        self.session = session
        self.tests = tests or session.settings.tests  # improver runs per estimate
        self.scorer = scorer
        self.context = context
        self.any_failure_zeroes = any_failure_zeroes
        """The original code's selection rule (paper protocol, candidate improvers only): if any test run
        of the improver raised, its meta-utility is 0, whatever the other runs scored."""
        self._results: dict[str, MetaUtilityResult] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def __call__(self, improver_source: str) -> float:
        return self.evaluate(improver_source).meta_utility

    def evaluate(self, improver_source: str) -> MetaUtilityResult:
        """Estimate once per improver and context; a repeated candidate gets the same estimate."""
        improver_sha = sha256(improver_source)
        with self._locks_guard:
            lock = self._locks.setdefault(improver_sha, threading.Lock())
        with lock:
            if improver_sha not in self._results:
                self._results[improver_sha] = self._estimate(improver_source, improver_sha)
            return self._results[improver_sha]

    def _estimate(self, improver_source: str, improver_sha: str) -> MetaUtilityResult:
        if self.session.store is not None:
            self.session.store.put_program(improver_source, "improver")
        workers = min(self.tests, MAX_CONCURRENT_TESTS)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="meta-test") as pool:
            outcomes = list(
                pool.map(lambda i: self._test(improver_source, improver_sha, i), range(self.tests))
            )
        vals = [outcome.utility_val for outcome in outcomes]
        tests = [outcome.utility_test for outcome in outcomes]
        if self.any_failure_zeroes and any(_raised(outcome.error) for outcome in outcomes):
            vals = [0.0] * len(outcomes)
            tests = [0.0] * len(outcomes)
        result = MetaUtilityResult(
            improver_sha=improver_sha,
            task=self.scorer.task.name,
            meta_utility=statistics.fmean(vals),
            meta_utility_test=statistics.fmean(tests),
            stderr_val=standard_error(vals),
            stderr_test=standard_error(tests),
            tests=outcomes,
        )
        self._record(result)
        return result

    def _test(self, improver_source: str, improver_sha: str, index: int) -> ImproverRunRecord:
        stored = self._stored_test(improver_sha, index)
        if stored is not None:
            return stored
        session = self.session
        settings = session.settings
        task = self.scorer.task
        outcome = run_improver_scored(
            session,
            improver_source,
            task.seed_algorithm,
            score=lambda source: self.scorer.utility(source, "val"),
            description=task.utility_text(settings.utility_budget),
            purpose=f"{self.context}/{improver_sha[:12]}/test={index}",
            timeout=settings.improver_timeout,
            events=session.event_sink(improver_sha),
            label=f"{self.context} improver {improver_sha[:8]} test {index}",
            seed=seeding.improver_seed(index),
        )
        session.check_stopped()  # an interrupted test is not a result: leave it for the resumed run
        utility_val = utility_test = 0.0
        program_sha = None
        if outcome.program is not None:
            program_sha = sha256(outcome.program)
            utility_val = self.scorer.utility(outcome.program, "val")
            utility_test = self.scorer.utility(outcome.program, "test")
        result = ImproverRunRecord(
            context=self.context,
            improver_sha=improver_sha,
            task=task.name,
            test_index=index,
            input_sha=sha256(task.seed_algorithm),
            output_sha=program_sha,
            error=outcome.error,
            utility_val=utility_val,
            utility_test=utility_test,
            lm_calls=outcome.lm_calls,
            utility_calls=outcome.utility_calls,
            wall_seconds=outcome.wall_seconds,
        )
        self._store_test(result, outcome.program, outcome.calls)
        session.progress.advance("test")
        return result

    def _stored_test(self, improver_sha: str, index: int) -> ImproverRunRecord | None:
        store = self.session.store
        if store is None:
            return None
        row = store.improver_run(self.context, improver_sha, self.scorer.task.name, index)
        if row is not None:
            self.session.progress.advance("test")
        return row

    def _store_test(self, record: ImproverRunRecord, program: str | None, calls: list[SpentCall]) -> None:
        store = self.session.store
        if store is None:
            return
        if program is not None:
            store.put_program(program, "algorithm")
        store.add_improver_run(
            record,
            [
                call.record(record.context, record.improver_sha, record.task, record.test_index, seq)
                for seq, call in enumerate(calls)
            ],
        )

    def _record(self, result: MetaUtilityResult) -> None:
        store = self.session.store
        if store is None:
            return
        store.add_meta_utility(
            MetaUtilityRecord(
                context=self.context,
                improver_sha=result.improver_sha,
                task=result.task,
                value_val=result.meta_utility,
                value_test=result.meta_utility_test,
                stderr_val=result.stderr_val,
                stderr_test=result.stderr_test,
                tests=len(result.tests),
            )
        )
