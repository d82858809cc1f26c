"""The numbers a report shows, as plain frozen dataclasses.

Why a separate model: the HTML page, the terminal summary, the JSON/CSV exports and notebook users all
read the same `RunSummary`, so a number can only differ between them by formatting, never by a second
query. Everything here is JSON-able through `to_dict()` (plain dicts, lists, floats, strings).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from selftaught.estimates import AggregatePoint, select_iteration, self_improvement_steps, status_labels
from selftaught.store import IterationRecord, TransferCell

Iteration = IterationRecord  # one stored iteration, exactly as the run store defines it


@dataclass(frozen=True)
class Candidate:
    """A meta-utility estimate of one improver under one context (a point on the curve plot).

    `t` is the iteration the estimate belongs to: context "t=<T>" (a candidate proposed during step T)
    and "iteration t=<T>" (the fresh estimate of iteration T's improver) both give T; other contexts
    (transfer, meta-eval) give None and are not plotted.
    """

    context: str
    t: int | None
    improver_sha: str
    task: str
    value_val: float
    value_test: float
    stderr_val: float
    stderr_test: float
    tests: int
    selected: bool  # this is the improver iteration t ended with
    failure: str | None = None  # why its improver runs failed ("2 of 5 failed: <first reason>"), if any did
    source: str | None = None  # the candidate improver's code (None when the store lacks it)
    proposed: bool = False  # proposed during step t (stored context kind "candidates"), not a re-estimate


@dataclass(frozen=True)
class LmUsage:
    """LM calls grouped by iteration (None: calls outside any iteration).

    `calls`, tokens and cost count fresh calls only, as the `iterations` table does; `cached` counts the
    replays a resumed run answered from its cache (they cost nothing and are not double-counted).
    """

    iteration: int | None
    calls: int
    responses: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_s: float
    cached: int
    errors: int


@dataclass(frozen=True)
class ImproverRuns:
    """Downstream improver runs (one per meta-utility test) grouped by iteration."""

    iteration: int | None
    runs: int
    failed: int
    wall_seconds: float


@dataclass(frozen=True)
class Event:
    """A budget, sandbox or safety event; `category` comes from the event registry."""

    iteration: int | None
    kind: str
    category: str  # selftaught.events.CATEGORIES
    detail: str
    program_sha: str | None
    created: float


@dataclass(frozen=True)
class StrategyHit:
    """One detected strategy in one improver, with the source lines that triggered the rule."""

    strategy: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Improver:
    """An iteration's improver with its parent's source (for the diff) and detected strategies."""

    t: int
    sha: str
    parent_sha: str | None
    status: str
    source: str | None  # None when the program row is missing (a damaged or half-copied store)
    parent_source: str | None
    strategies: tuple[StrategyHit, ...]
    lm_strategies: tuple[str, ...] | None = None  # optional LM labelling (`report --model`); None: no answer
    lm_labelled: bool = False  # an LM was asked (so None above means it gave no usable answer)


@dataclass(frozen=True)
class BudgetCurve:
    """Score vs budget of iteration t's improver (see `report.budget`): mean over its tests of the best
    validation utility found so far, at each LM-call count in `lm_calls`; `run_best` is each test's best
    utility (what the curve ends at, averaged) and `run_calls` how many utility calls each made."""

    t: int
    improver_sha: str
    status: str
    tests: int
    lm_calls: tuple[int, ...]
    best: tuple[float, ...]
    run_best: tuple[float, ...]
    run_calls: tuple[int, ...]


@dataclass(frozen=True)
class DownstreamRun:
    """One downstream test of a meta-utility estimate: the program the improver returned, its scores and,
    when the improver run failed, why. `t` as in `Candidate`; `source` None when no program came back (or
    the store lacks it)."""

    context: str
    t: int | None
    improver_sha: str
    test_index: int
    program_sha: str | None
    utility_val: float
    utility_test: float
    error: str | None
    lm_calls: int
    utility_calls: int
    wall_seconds: float
    source: str | None = None


@dataclass(frozen=True)
class Progress:
    """Where a run is, from its stored rows alone (any process can read it while the run writes).

    `current_t` is the iteration being computed (None when none is: finished, stopped, or not started);
    `phase` says which part of it: "seed estimate" (t=0), "candidates" (the improver improving itself, its
    candidates being scored), "estimate" (the fresh estimate of what it returned), or the run's status
    when nothing is being computed. `candidates_scored` counts the step's candidates with a stored
    meta-utility (of at most `candidate_budget`, the utility budget); `tests_done` the finished tests of
    the newest unfinished estimate (a candidate's or the iteration's), of `tests_asked`.
    """

    iterations_done: int
    iterations_asked: int | None
    current_t: int | None
    phase: str
    candidates_scored: int
    candidate_budget: int | None
    candidate_sha: str | None
    tests_done: int
    tests_asked: int | None
    test_runs: int
    lm_call_budget: int | None  # LM calls per improver run
    max_cost: float | None


@dataclass(frozen=True)
class RunSummary:
    """Everything one run's report shows. `warnings` says what is missing or still being written."""

    run_id: str
    path: Path
    task: str
    model: str
    status: str  # "running" | "completed" | "stopped" | "failed" | "interrupted" | "unknown"
    started: float | None
    finished: float | None
    version: str | None
    command: str | None
    group: str | None
    seed: int | None
    planned_iterations: int | None
    config: dict[str, Any]
    iterations: tuple[Iteration, ...]
    candidates: tuple[Candidate, ...]
    lm_usage: tuple[LmUsage, ...]
    improver_runs: tuple[ImproverRuns, ...]
    events: tuple[Event, ...]
    transfers: tuple[TransferCell, ...]
    improvers: tuple[Improver, ...]
    warnings: tuple[str, ...] = ()
    stop_reason: str | None = None  # why a "stopped" run stopped early (cost cap, replay miss, ...)
    budget_curves: tuple[BudgetCurve, ...] = ()  # score vs LM calls per iteration (empty: store < schema 3)
    downstream: tuple[DownstreamRun, ...] = ()  # every downstream test, in the order it finished
    progress: Progress | None = None
    price_known: bool = True  # False: an unpriced model, whose costs read 0 but were never counted

    @property
    def best(self) -> Iteration | None:
        """The iteration validation selects (`estimates.select_iteration`: earliest on a tie)."""
        return select_iteration(self.iterations)

    @property
    def steps(self) -> int:
        """Self-improvement steps finished (t >= 1): the one iteration count."""
        return self_improvement_steps(self.iterations)

    def status_labels(self) -> dict[int, str]:
        """How each iteration reads: seed, adopted, changed, not better, kept."""
        return status_labels(self.iterations)

    @property
    def in_progress(self) -> bool:
        return self.status == "running"

    def totals(self) -> dict[str, float]:
        """LM calls, tokens and cost over the whole run (from `lm_calls`, cached replays excluded)."""
        return {
            "lm_calls": sum(u.calls for u in self.lm_usage),
            "tokens_in": sum(u.tokens_in for u in self.lm_usage),
            "tokens_out": sum(u.tokens_out for u in self.lm_usage),
            "cost_usd": sum(u.cost_usd for u in self.lm_usage),
            "wall_seconds": sum(it.wall_seconds for it in self.iterations),
        }

    def to_json(self) -> str:
        """The JSON text the CLI's `--json` prints (`to_dict()` holds the same as plain values)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        data["transfers"] = [cell.to_dict() for cell in self.transfers]
        data["best_t"] = None if self.best is None else self.best.t
        data["steps"] = self.steps
        data["status_labels"] = {str(t): label for t, label in self.status_labels().items()}
        data["totals"] = self.totals()
        return data


@dataclass(frozen=True)
class GroupSummary:
    """The runs of one `--seeds N` invocation (or any runs put side by side by `compare`)."""

    group_id: str
    runs: tuple[RunSummary, ...]
    points: tuple[AggregatePoint, ...]
    strategy_counts: dict[str, int] = field(default_factory=dict)

    @property
    def task(self) -> str:
        tasks = sorted({run.task for run in self.runs})
        return ", ".join(tasks)

    def to_json(self) -> str:
        """The JSON text the CLI's `--json` prints (`to_dict()` holds the same as plain values)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group_id,
            "task": self.task,
            "runs": [run.to_dict() for run in self.runs],
            "iterations": [asdict(point) for point in self.points],
            "strategy_counts": dict(self.strategy_counts),
        }
