"""Improver runs that record every utility call in order, for `baselines.py --trace` and its plot.

One traced run is what a meta-utility test does (the improver improves the task's seed algorithm with
fresh budgets, sandboxed), plus a record of each utility call the improver made: how many LM calls it had
spent when it asked, and the validation utility it got. The final program is then scored on both
splits with the task's full evaluation, so figures beside the score (sum of radii, excess bins) are
kept. A failed improver run scores 0, as in the meta-utility.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from selftaught.stop.capabilities import LanguageModelCapability, UtilityCapability
from selftaught.stop.improver_run import run_improver
from selftaught.stop.scoring import DownstreamScorer
from selftaught.stop.session import Session
from selftaught.store.db import sha256
from selftaught.tasks import Evaluation, evaluate


@dataclass
class TracedRun:
    """One improver run: the utility calls in order as (LM calls spent, utility), and the final scores."""

    calls: list[tuple[int, float]]
    val: float
    test: float
    metrics_val: dict[str, float] = field(default_factory=dict)
    metrics_test: dict[str, float] = field(default_factory=dict)
    error: str | None = None


class FinalScores:
    """Full evaluations of returned programs, once per (program, split), shared by all runs of a task."""

    def __init__(self, scorer: DownstreamScorer) -> None:
        self.scorer = scorer
        self._memo: dict[tuple[str, str], Evaluation] = {}
        self._lock = threading.Lock()

    def get(self, program: str, split: str) -> Evaluation:
        key = (sha256(program), split)
        with self._lock:
            found = self._memo.get(key)
        if found is None:
            seed = self.scorer.seeds.for_split(split)
            found = evaluate(self.scorer.task, program, split=split, seed=seed, executor=self.scorer.executor)
            with self._lock:
                self._memo[key] = found
        return found


def traced_run(
    session: Session, scorer: DownstreamScorer, finals: FinalScores, label: str, source: str, index: int
) -> TracedRun:
    settings = session.settings
    task = scorer.task
    model = session.client.language_model(
        budget=settings.lm_calls,
        max_responses_per_call=settings.responses_per_call,
        purpose=f"benchmark {label}/test={index}",
    )
    events: list[tuple[str, str]] = []

    def sink(kind: str, detail: str) -> None:
        events.append((kind, detail))

    language_model = LanguageModelCapability(model, sink, on_stop=session.stop)
    calls: list[tuple[int, float]] = []
    lock = threading.Lock()

    def score(program: str) -> float:
        value = scorer.utility(program, "val")
        with lock:
            calls.append((language_model.calls_used, value))
        return value

    utility = UtilityCapability(
        score=score,
        description=task.utility_text(settings.utility_budget),
        budget=settings.utility_budget,
        events=sink,
    )
    outcome = run_improver(
        source,
        task.seed_algorithm,
        utility,
        language_model,
        session.executor,
        timeout=settings.improver_timeout,
        events=sink,
        label=f"benchmark {label} {index}",
    )
    if outcome.program is None:
        return TracedRun(calls, 0.0, 0.0, error=str(outcome.error))
    val, test = finals.get(outcome.program, "val"), finals.get(outcome.program, "test")
    return TracedRun(calls, val.utility, test.utility, val.metrics, test.metrics)


def best_so_far(calls: list[list[Any]], lm_budget: int) -> list[float | None]:
    """Best utility seen after spending 0..lm_budget LM calls (None before the first utility call)."""
    curve: list[float | None] = []
    best: float | None = None
    ordered = sorted(calls, key=lambda item: item[0])  # stable: calls at the same spend keep their order
    position = 0
    for spent in range(lm_budget + 1):
        while position < len(ordered) and ordered[position][0] <= spent:
            value = float(ordered[position][1])
            best = value if best is None else max(best, value)
            position += 1
        curve.append(best)
    return curve


def plot(traces: list[dict[str, Any]], lm_budget: int, path: Path) -> None:
    """ "Score vs budget": mean best-so-far validation utility against LM calls spent, per improver."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(trace["task"] for trace in traces))
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for label in dict.fromkeys(trace["improver"] for trace in traces if trace["task"] == task):
            curves = [
                best_so_far(trace["calls"], lm_budget)
                for trace in traces
                if trace["task"] == task and trace["improver"] == label
            ]
            xs, ys = [], []
            for spent in range(lm_budget + 1):
                known = [curve[spent] for curve in curves if curve[spent] is not None]
                if known:
                    xs.append(spent)
                    ys.append(sum(known) / len(known))
            axis.plot(xs, ys, marker="o", label=f"{label} (n={len(curves)})")
        axis.set_title(f"{task}: score vs budget")
        axis.set_xticks(range(lm_budget + 1))
        axis.set_xlabel("LM calls spent")
        axis.set_ylabel("best validation utility so far (mean over runs)")
        axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
