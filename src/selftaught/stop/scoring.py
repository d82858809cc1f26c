"""Downstream scoring with memoisation: a program's utility on a split and seed is computed once.

Why memoise: improvers often score the same program twice (the initial solution, duplicate LM replies),
the meta-utility re-scores improver outputs on two splits, and a resumed run must not redo finished
evaluations. The memo lives in the run store when there is one, so it survives a SIGKILL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from selftaught.detectors import check_scores, scan_program
from selftaught.events import EVALUATION_STOPPED
from selftaught.sandbox.executor import Executor
from selftaught.store import RunStore, StoredEvaluation, sha256
from selftaught.tasks import Evaluation, Task, evaluate

FindingSink = Callable[[str, str, str | None], None]
"""Receives (kind, detail, program_sha) for safety findings about downstream evaluations."""


@dataclass(frozen=True)
class SplitSeeds:
    """Seeds of the two splits for one run: validation is the paper's fixed base, test is secret."""

    val: int
    test: int

    def for_split(self, split: str) -> int:
        return self.val if split == "val" else self.test


class DownstreamScorer:
    """Scores algorithm source text on one task, sandboxed, memoised (in memory and in the store)."""

    def __init__(
        self,
        task: Task,
        executor: Executor,
        seeds: SplitSeeds,
        store: RunStore | None,
        findings: FindingSink | None = None,
    ) -> None:
        self.task = task
        self.executor = executor
        self.seeds = seeds
        self.store = store
        self._findings = findings
        self._memo: dict[tuple[str, str], StoredEvaluation] = {}
        self._inflight: dict[tuple[str, str], threading.Event] = {}
        self._lock = threading.Lock()

    def utility(self, source: str, split: str = "val") -> float:
        return self.evaluation(source, split).utility

    def evaluation(self, source: str, split: str = "val") -> StoredEvaluation:
        """Evaluate once per (program, split); concurrent callers of the same key wait for the first."""
        key = (sha256(source), split)
        while True:
            with self._lock:
                if key in self._memo:
                    return self._memo[key]
                waiter = self._inflight.get(key)
                if waiter is None:
                    self._inflight[key] = threading.Event()
                    break
            waiter.wait()
        try:
            result = self._evaluate(source, key[0], split)
            with self._lock:
                self._memo[key] = result
            return result
        finally:
            with self._lock:
                self._inflight.pop(key).set()

    def _evaluate(self, source: str, sha: str, split: str) -> StoredEvaluation:
        seed = self.seeds.for_split(split)
        if self.store is not None:
            stored = self.store.get_evaluation(sha, self.task.name, split, seed)
            if stored is not None:
                return stored
        evaluation = evaluate(self.task, source, split=split, seed=seed, executor=self.executor)
        result = StoredEvaluation(
            utility=evaluation.utility,
            instances=evaluation.instances,
            failures=evaluation.failures,
            setup_error=evaluation.setup_error,
            wall_seconds=evaluation.wall_seconds,
            metrics=dict(getattr(evaluation, "metrics", {})),
            artifacts=dict(getattr(evaluation, "artifacts", {})),
        )
        if self.store is not None:
            self.store.put_program(source, "algorithm")
            self.store.put_evaluation(sha, self.task.name, split, seed, result)
        if self._findings is not None:
            self._scan(source, sha)
            if evaluation.setup_error is None:
                self._report_findings(evaluation, sha)
            for kind, detail in evaluation.events:  # the scorer's own, e.g. circle packing's "new-best"
                self._findings(kind, detail, sha)
            if getattr(evaluation, "stopped", None):  # the report counts evaluations cut short, and why
                ran = f"{evaluation.instances_run} of {evaluation.instances} instances run"
                self._findings(EVALUATION_STOPPED, f"{split}: {ran}: {evaluation.stopped}", sha)
        return result

    def _scan(self, source: str, sha: str) -> None:
        assert self._findings is not None
        for finding in scan_program(source):
            self._findings(finding.kind, finding.detail, sha)

    def _report_findings(self, evaluation: Evaluation, sha: str) -> None:
        assert self._findings is not None
        for finding in check_scores(
            self.task.name,
            evaluation.utility,
            [item.score for item in evaluation.per_instance],
            evaluation.failures,
            evaluation.instances,
            reasons=[item.error for item in evaluation.per_instance],
            bounded=self.task.bounded,  # the paper's originals and OpenEvolve evaluators leave [0, 1]
        ):
            self._findings(finding.kind, finding.detail, sha)
