"""Recursive self-improvement: I_t = I_{t-1}(I_{t-1}, û, L), recorded and resumable.

Each iteration runs the current improver on its own source with the meta-utility û as its utility
(candidates are estimated under context "t=<T>"). The improver it returns is then estimated afresh under
context "iteration t=<T>" — with new LM samples — so the reported value is not the maximum the selection
happened to see. When the step fails (exception, timeout, no valid improver, zero utility) the previous
improver is kept, as in the paper.

Every finished piece (evaluation, improver run, iteration) is committed to the run store as it ends, so a
killed run resumes where it stopped; LM calls already answered replay from the run's cache.
"""

from __future__ import annotations

import time
from pathlib import Path

import selftaught.events as event_kinds
from selftaught.detectors import check_gap, scan_program
from selftaught.improvers import improver_problem
from selftaught.stop.capabilities import UtilityCapability
from selftaught.stop.improver_run import run_with_budgets
from selftaught.stop.meta_utility import MetaUtility, MetaUtilityResult, SpentCall
from selftaught.stop.scoring import DownstreamScorer
from selftaught.stop.session import Session
from selftaught.stop.texts import meta_utility_text
from selftaught.store import Context, IterationRecord, RunDir, sha256

IterationResult = IterationRecord  # the loop's name for a stored iteration


class SelfImprovement:
    """One run's iterations on one task, persisted in the session's store."""

    def __init__(self, session: Session, scorer: DownstreamScorer, run_dir: Path | None) -> None:
        if session.store is None:
            raise ValueError("self-improvement needs a run store")
        self.session = session
        self.store = session.store
        self.scorer = scorer
        self.run_dir = run_dir
        self._scanned: set[str] = set()

    def iterations(self) -> list[IterationResult]:
        return self.store.iterations()

    def run(self, seed_improver: str, iterations: int) -> list[IterationResult]:
        """I_0 = the seed improver, then I_t = I_{t-1}(I_{t-1}, û, L) for t = 1..T; finished t are read back."""
        done = {item.t: item for item in self.iterations()}
        self.session.progress.stage("iteration", iterations + 1)
        current = seed_improver
        for t in range(iterations + 1):
            if t not in done:
                done[t] = self._seed_iteration(current) if t == 0 else self._step(t, current, done[t - 1])
            current = self.store.get_program(done[t].improver_sha) or current
            self.session.progress.advance("iteration")
            self._summarise(done)
        return [done[t] for t in range(iterations + 1)]

    def _seed_iteration(self, seed_improver: str) -> IterationResult:
        started = self._begin(0)
        return self._save(0, seed_improver, None, "seed", self._estimate(0, seed_improver), None, started)

    def _step(self, t: int, current: str, previous: IterationResult) -> IterationResult:
        """The improver improves itself; what it returns is estimated afresh (not the maximum the
        selection saw) and adopted when it is a changed improver worth more than zero."""
        started = self._begin(t)
        parent_sha = sha256(current)
        proposed, problem = self._self_improve(t, current)
        if proposed is not None:
            estimate = self._estimate(t, proposed)
            if estimate.meta_utility <= 0:
                problem = "the improved improver has zero meta-utility"
            elif sha256(proposed) == parent_sha:  # `improved` only when it changed (issue 14)
                return self._save(
                    t,
                    current,
                    parent_sha,
                    "kept",
                    estimate,
                    "the improver returned itself unchanged",
                    started,
                )
            else:
                return self._save(t, proposed, parent_sha, "improved", estimate, None, started)
        self.session.event(event_kinds.ITERATION_FALLBACK, f"t={t}: {problem}", parent_sha)
        return self._save(
            t, current, parent_sha, "kept", _unchanged(previous, self.scorer.task.name), problem, started
        )

    def _begin(self, t: int) -> float:
        self.session.iteration = t
        return time.monotonic()

    def _self_improve(self, t: int, current: str) -> tuple[str | None, str | None]:
        """Run I_{t-1} on its own source with û (context "t=<T>") as its utility: (improver, None) or
        (None, why not)."""
        session = self.session
        settings = session.settings
        events = session.event_sink(sha256(current))
        candidates = MetaUtility(
            session, self.scorer, Context.candidates(t), any_failure_zeroes=settings.protocol == "paper"
        )
        session.progress.stage("candidate", settings.utility_budget)
        calls: list[SpentCall] = []

        def score(source: str) -> float:
            spent = utility.lm_spent()
            value = self._score_candidate(candidates, source)
            calls.append(SpentCall(sha256(source), value, *spent))
            return value

        utility = UtilityCapability(
            score=score,
            description=meta_utility_text(self.scorer.task.name, self.scorer.task.description, settings),
            budget=settings.utility_budget,
            events=events,
        )
        outcome = run_with_budgets(
            session,
            current,
            current,
            utility,
            purpose=f"t={t}/self-improve",
            timeout=settings.meta_improver_timeout,
            events=events,
            label=f"self-improvement t={t}",
        )
        session.check_stopped()
        # The step's own utility calls (context step t, its single run), for the report's score-vs-budget.
        self.store.add_utility_calls(
            [
                call.record(Context.step(t), sha256(current), self.scorer.task.name, 0, seq)
                for seq, call in enumerate(calls)
            ]
        )
        if outcome.program is None:
            return None, outcome.error or "no program"
        problem = improver_problem(outcome.program)
        if problem is not None:
            return None, problem
        self._scan(outcome.program)  # usually already scanned as a candidate: scanned once per sha
        return outcome.program, None

    def _estimate(self, t: int, improver: str) -> MetaUtilityResult:
        """A fresh meta-utility estimate of iteration t's improver (context "iteration t=<T>")."""
        self.session.progress.stage("test", self.session.settings.tests)
        return MetaUtility(self.session, self.scorer, Context.iteration(t)).evaluate(improver)

    def _summarise(self, done: dict[int, IterationResult]) -> None:
        best = max(done.values(), key=lambda item: item.meta_utility_val)
        usage = self.session.usage
        self.session.progress.summary(
            f"best val {best.meta_utility_val:.3f} test {best.meta_utility_test:.3f} (t={best.t}) | "
            f"{usage.calls} LM calls ${usage.cost_usd:.2f}"
        )

    def _score_candidate(self, candidates: MetaUtility, source: str) -> float:
        problem = improver_problem(source)
        if problem is not None:
            self.session.progress.advance("candidate")
            return 0.0
        self._scan(source)
        self.session.progress.stage("test", self.session.settings.tests)
        value = candidates(source)
        self.session.progress.advance("candidate")
        return value

    def _scan(self, source: str) -> None:
        sha = sha256(source)
        if sha in self._scanned:
            return
        findings = scan_program(source)
        self._scanned.add(sha)  # only once the scan has succeeded
        for finding in findings:
            self.session.event(finding.kind, finding.detail, sha)

    def _save(
        self,
        t: int,
        source: str,
        parent_sha: str | None,
        status: str,
        report: MetaUtilityResult,
        note: str | None,
        started: float,
    ) -> IterationResult:
        sha = self.store.put_program(source, "improver")
        usage = self.store.iteration_usage(t)
        result = IterationResult(
            t=t,
            improver_sha=sha,
            parent_sha=parent_sha,
            status=status,
            meta_utility_val=report.meta_utility,
            meta_utility_test=report.meta_utility_test,
            stderr_val=report.stderr_val,
            stderr_test=report.stderr_test,
            note=note,
            lm_calls=usage.calls,
            tokens_in=usage.tokens_in,
            tokens_out=usage.tokens_out,
            cost_usd=usage.cost_usd,
            wall_seconds=time.monotonic() - started,
        )
        self._check_gap(result)
        if self.run_dir is not None:
            RunDir(self.run_dir).write_improver_copy(t, sha, source)
        self.store.add_iteration(result)
        return result

    def _check_gap(self, result: IterationResult) -> None:
        finding = check_gap(result.meta_utility_val, result.meta_utility_test)
        if finding is not None:
            self.session.event(finding.kind, f"t={result.t}: {finding.detail}", result.improver_sha)


def _unchanged(previous: IterationResult, task: str) -> MetaUtilityResult:
    """A kept iteration carries its parent's estimate (no new one is made for an unchanged improver)."""
    return MetaUtilityResult(
        improver_sha=previous.improver_sha,
        task=task,
        meta_utility=previous.meta_utility_val,
        meta_utility_test=previous.meta_utility_test,
        stderr_val=previous.stderr_val,
        stderr_test=previous.stderr_test,
    )
