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
from selftaught.estimates import select_iteration
from selftaught.improvers import improver_problem
from selftaught.lm.pricing import price_known
from selftaught.stop.improver_run import run_improver_scored
from selftaught.stop.meta_utility import MetaUtility, MetaUtilityResult
from selftaught.stop.scoring import DownstreamScorer
from selftaught.stop.session import Session
from selftaught.stop.texts import meta_utility_text
from selftaught.store import Context, IterationRecord, RunDir, sha256


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

    def iterations(self) -> list[IterationRecord]:
        return self.store.iterations()

    def run(self, seed_improver: str, iterations: int) -> list[IterationRecord]:
        """I_0 = the seed improver, then I_t = I_{t-1}(I_{t-1}, û, L) for t = 1..T; finished t are read back."""
        done = {item.t: item for item in self.iterations()}
        # Progress counts self-improvement steps (t=1..T), as `runs` and the report do; t=0 is step 0.
        self.session.progress.stage("iteration", iterations)
        current = seed_improver
        for t in range(iterations + 1):
            if t not in done:
                done[t] = self._seed_iteration(current) if t == 0 else self._step(t, current, done[t - 1])
            current = self.store.get_program(done[t].improver_sha) or current
            if t > 0:
                self.session.progress.advance("iteration")
            self._summarise(done)
        return [done[t] for t in range(iterations + 1)]

    def _seed_iteration(self, seed_improver: str) -> IterationRecord:
        started = self._begin(0)
        return self._save(0, seed_improver, None, "seed", self._estimate(0, seed_improver), None, started)

    def _step(self, t: int, current: str, previous: IterationRecord) -> IterationRecord:
        """I_t = I_{t-1}(I_{t-1}, û, L). What the improver returns is estimated afresh (not the maximum
        the selection saw) and adopted when it is a changed improver worth more than zero; otherwise
        I_{t-1} is kept, as in the paper. An improver that returns itself unchanged is kept with its
        parent's estimate: the same program needs no second estimate (the main job's last step is one)."""
        started = self._begin(t)
        parent_sha = sha256(current)
        proposed, problem = self._self_improve(t, current)
        if proposed is None:
            return self._keep(t, current, previous, problem, started)
        if sha256(proposed) == parent_sha:
            note = "the improver returned itself unchanged"
            return self._keep(t, current, previous, note, started, failed=False)
        estimate = self._estimate(t, proposed)
        if estimate.meta_utility == 0:  # every test failed: 0 is the failure value on any scale
            return self._keep(t, current, previous, "the improved improver has zero meta-utility", started)
        return self._save(t, proposed, parent_sha, "improved", estimate, None, started)

    def _keep(
        self,
        t: int,
        current: str,
        previous: IterationRecord,
        problem: str,
        started: float,
        *,
        failed: bool = True,
    ) -> IterationRecord:
        """I_t = I_{t-1}, carrying its estimate, with the reason as the note; a failed step (not one
        that returned its improver unchanged) is also a fallback event."""
        parent_sha = sha256(current)
        if failed:
            self.session.event(event_kinds.ITERATION_FALLBACK, f"t={t}: {problem}", parent_sha)
        estimate = _unchanged(previous, self.scorer.task.name)
        return self._save(t, current, parent_sha, "kept", estimate, problem, started)

    def _begin(self, t: int) -> float:
        self.session.iteration = t
        return time.monotonic()

    def _self_improve(self, t: int, current: str) -> tuple[str | None, str]:
        """Run I_{t-1} on its own source with û (context "t=<T>") as its utility: (improver, "") or
        (None, why not)."""
        session = self.session
        settings = session.settings
        candidates = MetaUtility(
            session, self.scorer, Context.candidates(t), any_failure_zeroes=settings.protocol == "paper"
        )
        session.progress.stage("candidate", settings.utility_budget)
        outcome = run_improver_scored(
            session,
            current,
            current,
            score=lambda source: self._score_candidate(candidates, source),
            description=meta_utility_text(
                self.scorer.task.name,
                self.scorer.task.description,
                settings,
                bounded=self.scorer.task.bounded,
            ),
            purpose=f"t={t}/self-improve",
            timeout=settings.meta_improver_timeout,
            events=session.event_sink(sha256(current)),
            label=f"self-improvement t={t}",
        )
        session.check_stopped()
        # The step's own utility calls (context step t, its single run), for the report's score-vs-budget.
        self.store.add_utility_calls(
            [
                call.record(Context.step(t), sha256(current), self.scorer.task.name, 0, seq)
                for seq, call in enumerate(outcome.calls)
            ]
        )
        if outcome.program is None:
            return None, str(outcome.error or "no program")
        problem = improver_problem(outcome.program)
        if problem is not None:
            return None, problem
        self._scan(outcome.program)  # usually already scanned as a candidate: scanned once per sha
        return outcome.program, ""

    def _estimate(self, t: int, improver: str) -> MetaUtilityResult:
        """A fresh meta-utility estimate of iteration t's improver (context "iteration t=<T>")."""
        tests = self.session.settings.estimate_tests
        self.session.progress.stage("test", tests)
        return MetaUtility(self.session, self.scorer, Context.iteration(t), tests=tests).evaluate(improver)

    def _summarise(self, done: dict[int, IterationRecord]) -> None:
        """The progress line's summary: the selected iteration and the run's LM use so far, summed over
        its finished iterations as the run table sums them (a resumed run counts its earlier work)."""
        best = select_iteration(done.values())
        assert best is not None  # t=0 is always done first
        settings = self.session.settings
        calls = sum(item.lm_calls for item in done.values())
        cost = (
            f"${sum(item.cost_usd for item in done.values()):.2f}"
            if price_known(settings.model, settings.prices_file)
            else "cost unknown"
        )
        self.session.progress.summary(
            f"best val {best.meta_utility_val:.3f} test {best.meta_utility_test:.3f} (t={best.t}) | "
            f"{calls} LM calls {cost}"
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
    ) -> IterationRecord:
        sha = self.store.put_program(source, "improver")
        usage = self.store.iteration_usage(t)
        result = IterationRecord(
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

    def _check_gap(self, result: IterationRecord) -> None:
        finding = check_gap(result.meta_utility_val, result.meta_utility_test)
        if finding is not None:
            self.session.event(finding.kind, f"t={result.t}: {finding.detail}", result.improver_sha)


def _unchanged(previous: IterationRecord, task: str) -> MetaUtilityResult:
    """A kept iteration carries its parent's estimate (no new one is made for an unchanged improver)."""
    return MetaUtilityResult(
        improver_sha=previous.improver_sha,
        task=task,
        meta_utility=previous.meta_utility_val,
        meta_utility_test=previous.meta_utility_test,
        stderr_val=previous.stderr_val,
        stderr_test=previous.stderr_test,
    )
