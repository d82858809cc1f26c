"""What an evaluation produced: per-instance scores and the evaluation they add up to.

A leaf of `tasks/`: every kind of task (host-scored, interactive, OpenEvolve) returns an `Evaluation`,
and the `Task` protocol names it, so it depends on none of them.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from selftaught.failure import Failure, FailureKind


@dataclass
class InstanceScore:
    """How one instance went: its score, the trusted-side call time, and why it failed (if it did)."""

    index: int
    score: float
    seconds: float
    error: Failure | None = None
    metrics: dict[str, float] | None = None  # the scorer's figures beside the score (`Score.metrics`)
    events: list[tuple[str, str]] = field(default_factory=list)  # the scorer's (kind, detail) events


@dataclass
class Evaluation:
    """The result of one evaluation; `utility` is the mean instance score, in [0, 1]."""

    task: str
    split: str
    seed: int
    utility: float
    instances: int
    failures: int
    per_instance: list[InstanceScore] = field(default_factory=list)
    setup_error: str | None = None
    wall_seconds: float = 0.0
    events: list[tuple[str, str]] = field(default_factory=list)  # the scorer's (kind, detail) events
    instances_run: int | None = None  # how many instances the program was run on (None: not counted)
    stopped: str | None = None  # why the evaluation stopped before its last instance (None: it did not)

    @classmethod
    def of_scores(
        cls,
        task: str,
        split: str,
        seed: int,
        scores: list[InstanceScore],
        problem: str | None,
        started: float,
        stopped: str | None = None,
    ) -> Evaluation:
        """The evaluation whose utility is the mean of these instance scores (every protocol but the
        paper's whole-utility rule); `started` is the perf_counter reading when it began."""
        return cls(
            task=task,
            split=split,
            seed=seed,
            utility=math.fsum(item.score for item in scores) / len(scores),
            instances=len(scores),
            failures=sum(1 for item in scores if item.error is not None),
            per_instance=scores,
            setup_error=problem,
            wall_seconds=time.perf_counter() - started,
            events=[event for item in scores for event in item.events],
            instances_run=count_run(scores, problem),
            stopped=stopped,
        )

    @property
    def metrics(self) -> dict[str, float]:
        """Mean of each scorer figure over the instances that report it (e.g. the sum of radii)."""
        values: dict[str, list[float]] = {}
        for item in self.per_instance:
            for key, value in (item.metrics or {}).items():
                values.setdefault(key, []).append(value)
        return {key: math.fsum(found) / len(found) for key, found in values.items()}

    def to_dict(self, *, verbose: bool = False, include_seed: bool = True) -> dict[str, Any]:
        """The fixed JSON contract (`task`, `split`, `utility`, `instances`, `failures`), plus detail.

        Pass `include_seed=False` whenever the result may reach generated code or an LM: a test seed
        is secret for the duration of a run.
        """
        data: dict[str, Any] = {
            "task": self.task,
            "split": self.split,
            "utility": self.utility,
            "instances": self.instances,
            "failures": self.failures,
            "setup_error": self.setup_error,
            "wall_seconds": round(self.wall_seconds, 4),
            "instances_run": self.instances if self.instances_run is None else self.instances_run,
            "stopped": self.stopped,
        }
        if include_seed:
            data["seed"] = self.seed
        if self.metrics:
            data["metrics"] = self.metrics
        if self.events:
            data["events"] = [{"kind": kind, "detail": detail} for kind, detail in self.events]
        if verbose:
            data["per_instance"] = [asdict(item) for item in self.per_instance]
        return data


def count_run(scores: list[InstanceScore], problem: str | None) -> int:
    """How many instances the program ran on: all but those a setup error or an early stop skipped."""
    if problem is not None:
        return 0
    return sum(1 for item in scores if item.error is None or item.error.kind is not FailureKind.NOT_RUN)
