"""The records a run store holds, one frozen dataclass per table, shared by its writers and readers.

Why typed records: the loop, the meta-utility, transfer, the safety experiment, the audit and the reports
all read and write the same rows. With free dicts and free meta keys each of them spelled column names,
status words and context strings its own way ("completed" here, "done" there; "t=3" formatted in one
module and parsed back by regex in another). Here each row has one shape, and the store is the only code
that turns it into SQL.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

RunStatus = Literal["running", "completed", "stopped", "failed", "interrupted"]
RUN_STATUSES: tuple[str, ...] = get_args(RunStatus)
IterationStatus = Literal["seed", "improved", "kept"]
ContextKind = Literal["candidates", "iteration", "step", "meta-eval", "transfer", "other"]
CONTEXT_KINDS: tuple[str, ...] = get_args(ContextKind)


@dataclass(frozen=True)
class Context:
    """Which step asked for an improver run or a meta-utility estimate.

    `candidates` t: a candidate proposed while self-improvement step t ran (the utility the improver saw);
    `step` t: the self-improvement step itself (the improver improving itself; its utility calls);
    `iteration` t: the fresh estimate of iteration t's improver; `meta-eval`: `selftaught meta-eval`;
    `transfer` label: a transfer table row; `other` label: a context an old store named freely. Stored as columns; `str()` is the human label ("t=3",
    "iteration t=3", "meta-eval", "transfer t=1") used in LM-call purposes, logs and report JSON.
    """

    kind: ContextKind
    t: int | None = None
    label: str = ""

    @classmethod
    def candidates(cls, t: int) -> Context:
        return cls("candidates", t)

    @classmethod
    def iteration(cls, t: int) -> Context:
        return cls("iteration", t)

    @classmethod
    def step(cls, t: int) -> Context:
        return cls("step", t)

    @classmethod
    def meta_eval(cls) -> Context:
        return cls("meta-eval")

    @classmethod
    def transfer(cls, label: str) -> Context:
        return cls("transfer", None, label)

    def __str__(self) -> str:
        if self.kind == "candidates":
            return f"t={self.t}"
        if self.kind == "iteration":
            return f"iteration t={self.t}"
        if self.kind == "step":
            return f"step t={self.t}"
        if self.kind == "transfer":
            return f"transfer {self.label}"
        if self.kind == "other":
            return self.label
        return self.kind if not self.label else f"{self.kind} {self.label}"

    @classmethod
    def from_legacy(cls, text: str) -> Context:
        """The context a schema-1 store wrote as text (only the migration reads those)."""
        match = _LEGACY_T.match(text)
        if match:
            return cls("iteration" if match.group(1) else "candidates", int(match.group(2)))
        if text.startswith("transfer "):
            return cls.transfer(text.removeprefix("transfer "))
        if text == "meta-eval":
            return cls.meta_eval()
        return cls("other", None, text)  # unknown old context: kept verbatim


_LEGACY_T = re.compile(r"^(iteration )?t=(\d+)$")


@dataclass(frozen=True)
class RunMeta:
    """What a run is (one row per field in the `meta` table, values as JSON).

    Self-improvement runs fill task, model, config, seeds and the group; the sandbox-flag experiment
    (kind "safety") fills experiment, warning, attempts_requested and result. Both use one status
    vocabulary (`RunStatus`); stores written before it said "done" read back as "completed".
    """

    kind: str = "self-improvement"
    task: str | None = None
    model: str | None = None
    status: RunStatus = "running"
    config: dict[str, Any] | None = None
    version: str | None = None
    command: str | None = None
    started: float | None = None
    finished: float | None = None
    group: str | None = None
    seed: int | None = None
    replicate: int = 0
    test_seed: int | None = None
    stop_reason: str | None = None
    experiment: str | None = None
    warning: bool | None = None
    attempts_requested: int | None = None
    result: dict[str, Any] | None = None
    # How evaluations were scored (tasks.evaluation.SCORING_VERSION); None: before versions were stored.
    scoring_version: int | None = None
    # The working directory the run started in (task paths typed relative to it); None before it was stored.
    workdir: str | None = None

    @classmethod
    def from_values(cls, values: dict[str, Any]) -> RunMeta:
        """From the stored key -> value pairs; unknown keys are ignored, an old "done" is "completed"."""
        known = {f.name for f in fields(cls)}
        data = {key: value for key, value in values.items() if key in known}
        if data.get("status") == "done":
            data["status"] = "completed"
        if data.get("status") not in RUN_STATUSES:
            data.pop("status", None)
        if data.get("replicate") is None:
            data.pop("replicate", None)
        return cls(**data)

    def to_values(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IterationRecord:
    """One row of `iterations`: t=0 is the starting improver, t>=1 the improved (or kept) ones."""

    t: int
    improver_sha: str
    parent_sha: str | None
    status: str  # IterationStatus
    meta_utility_val: float
    meta_utility_test: float
    stderr_val: float
    stderr_test: float
    note: str | None
    lm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    wall_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EvaluationRecord:
    """A program's utility on one split and seed (a fact: evaluations are memoised by it).

    `metrics` and `artifacts` keep what an OpenEvolve evaluator returned (empty for host-scored tasks), so
    a run stores what its evaluator said, not only the utility derived from it.
    """

    utility: float
    instances: int
    failures: int
    setup_error: str | None
    wall_seconds: float
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)


StoredEvaluation = EvaluationRecord  # the name the scorer has always used


@dataclass(frozen=True)
class ImproverRunRecord:
    """One improver run of a meta-utility estimate (`test_index` of `tests`)."""

    context: Context
    improver_sha: str
    task: str
    test_index: int
    input_sha: str
    output_sha: str | None
    error: str | None
    utility_val: float
    utility_test: float
    lm_calls: int
    utility_calls: int
    wall_seconds: float

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "failed"


@dataclass(frozen=True)
class UtilityCallRecord:
    """One call an improver made to its utility, in order (`seq` from 0): score-vs-budget curves.

    `lm_calls` / `lm_responses`: what the same improver run had spent of its LM budget when the call
    arrived at the host (None in stores written before schema 3).
    """

    context: Context
    improver_sha: str
    task: str
    test_index: int
    seq: int
    program_sha: str | None
    value: float
    lm_calls: int | None = None
    lm_responses: int | None = None


@dataclass(frozen=True)
class MetaUtilityRecord:
    """A meta-utility estimate of one improver under one context."""

    context: Context
    improver_sha: str
    task: str
    value_val: float
    value_test: float
    stderr_val: float
    stderr_test: float
    tests: int


@dataclass(frozen=True)
class LmCallRecord:
    """One LM call (a cached replay costs nothing and is marked `cached`)."""

    iteration: int | None
    purpose: str | None
    model: str
    n: int
    temperature: float | None
    tokens_in: int
    tokens_out: int
    latency_s: float
    cost_usd: float
    cached: bool
    error: str | None


@dataclass(frozen=True)
class EventRecord:
    """One event (kinds: `selftaught.events`); `id` orders them."""

    id: int
    iteration: int | None
    kind: str
    program_sha: str | None
    detail: str
    created: float


@dataclass(frozen=True)
class TransferCell:
    """One cell of a transfer table: what `transfer` computes, the store keeps and the report shows.

    Why one type: the STOP layer, the store and the report once had a cell each, with different fields.
    `mean_val` (the validation estimate) is known when the cell is computed and not stored, so cells read
    back from a run have None; `to_dict` leaves it out then, which keeps both JSON shapes as they were.
    """

    label: str  # "seed algorithm" | "seed improver" | "t=<T>" | a file name
    task: str
    mean: float  # test-split utility (seed algorithm) or test meta-utility (improvers)
    stderr: float
    tests: int
    mean_val: float | None = None
    improver_sha: str | None = None  # None for the seed algorithm and in cells not tied to a stored program

    def to_dict(self) -> dict[str, Any]:
        """`transfer --json` cells (with mean_val) and report cells (without): the keys they always had."""
        data: dict[str, Any] = {
            "label": self.label,
            "task": self.task,
            "mean": self.mean,
            "stderr": self.stderr,
        }
        if self.mean_val is not None:
            data["mean_val"] = self.mean_val
        data["tests"] = self.tests
        return data


@dataclass(frozen=True)
class IterationUsage:
    """Fresh (uncached) LM usage of one iteration."""

    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
