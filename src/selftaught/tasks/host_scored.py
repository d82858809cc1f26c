"""A downstream task: what the LM sees (signature, utility text, seed) and what only the host holds.

Built-in tasks and user task directories are both plain `Task` objects; the only difference is where
their files live. The hidden half of a task is its scorer: instance generation (with labels, optima)
and `score`. Instances are generated in the host, cached per (split, seed), and only their `args`
ever cross into the sandbox; `hidden` stays here.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from selftaught.errors import UsageError
from selftaught.tasks.outcome import Score
from selftaught.tasks.taskfile import DEFAULT_CASCADE, SPLITS
from selftaught.tasks.validation import InvalidOutput

if TYPE_CHECKING:
    from selftaught.sandbox.executor import Executor
    from selftaught.tasks.result import Evaluation

VAL_SEED_BASE = 4321
"""Validation instance i comes from seed VAL_SEED_BASE + i, as in the paper (reproducible numbers)."""

_CACHE_ENTRIES = 8  # (split, seed) instance sets kept per task; test seeds are fresh per run


@dataclass(frozen=True)
class Instance:
    """One problem instance: `args` go to the program, `hidden` (labels, optima) never leaves the host."""

    args: list[Any]
    hidden: Any = None


InstancesFn = Callable[..., Sequence[Any]]
ScoreFn = Callable[[Instance, Any], Any]
UtilityFn = Callable[..., float]


@dataclass(frozen=True)
class Scorer:
    """The hidden functions of a task, as loaded from its `scorer.py`."""

    instances: InstancesFn
    score: ScoreFn
    wants_count: bool  # `instances` takes a third parameter `count` (the split's size from task.toml)
    session: Callable[[Instance], Any] | None = None  # host-driven tasks: see `selftaught.tasks.interactive`
    utility: UtilityFn | None = None  # paper protocol only: the whole-utility rule of the original code
    # paper protocol only: `stops(instance, call)` is True where the original code returned early
    stops: Callable[[Instance, Any], bool] | None = None


class HostEvaluator(Protocol):
    """How a host-scored task scores a program: instance by instance (`evaluation.evaluate_instances`),
    host-driven sessions (`interactive.evaluate_sessions`) or the original code's whole-utility rule
    (`paper.evaluate_paper`). The loader picks one by the scorer's functions, so this module imports
    none of them."""

    def __call__(
        self, task: HostScoredTask, source: str, *, split: str, seed: int | None, executor: Executor
    ) -> Evaluation: ...


class HostScoredTask:
    """A task scored in the host (see the module docstring; the `Task` protocol is in tasks/task.py).

    Thread-safe: STOP evaluates from many threads.
    """

    def __init__(
        self,
        *,
        name: str,
        description: str,
        entry_point: str,
        signature: str,
        instance_timeout: float,
        n_instances: dict[str, int],
        failure_value: float,
        seed_algorithm: str,
        utility_source: str,
        scorer: Scorer,
        evaluator: HostEvaluator,
        directory: Path | None = None,
        builtin: bool = False,
        protocol: str = "strict",
        cascade: int = DEFAULT_CASCADE,
    ) -> None:
        self.name = name
        self.description = description
        self.entry_point = entry_point
        self.signature = signature
        self.instance_timeout = instance_timeout
        self.n_instances = dict(n_instances)
        self.failure_value = failure_value
        self.seed_algorithm = seed_algorithm
        self.utility_source = utility_source
        self.directory = directory
        self.builtin = builtin
        self.protocol = protocol
        """`strict` (scores in [0, 1], per-instance failures) or `paper` (the original code's rules)."""
        self.cascade = cascade
        """Strict protocol: if the first `cascade` instances all fail, the rest are not run (0: never)."""
        self._scorer = scorer
        self._evaluator = evaluator
        self._cache: OrderedDict[tuple[str, int], list[Instance]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"HostScoredTask({self.name!r})"

    @property
    def bounded(self) -> bool:
        """Strict scores are in [0, 1]; the paper protocol keeps the original code's scales."""
        return self.protocol != "paper"

    def utility_text(self, budget: int | None = None) -> str:
        """The `utility.str` shown to the LM: our readable description of the hidden scoring.

        With a budget, a first line states it, because the paper's utility object refuses (returns 0)
        once its budget is spent and the LM should be able to plan for that.
        """
        text = self.utility_source.rstrip("\n") + "\n"
        if budget is None or self.protocol == "paper":  # the original showed its utility.py as it is
            return text
        header = f"# Budget: this utility may be called at most {budget} times; calls beyond that return 0.\n"
        return header + text

    def check_program(self, source: str) -> str | None:
        """One line saying why `source` cannot be run on this task (static check, never executed)."""
        from selftaught.tasks.program import validate_program

        return validate_program(source, self.entry_point)

    def evaluate(
        self, source: str, *, split: str = "val", seed: int | None = None, executor: Executor
    ) -> Evaluation:
        """Score `source` on this task's instances in the sandbox (`selftaught.tasks.evaluate`).

        A method so that task kinds scored differently (OpenEvolve directories run their own
        evaluator in the sandbox) can override it; callers use the module-level `evaluate`.
        """
        return self._evaluator(self, source, split=split, seed=seed, executor=executor)

    @property
    def scorer(self) -> Scorer:
        """The task's hidden functions (host side only: instances, judge, and the paper's rules)."""
        return self._scorer

    @property
    def interactive(self) -> bool:
        """True when the host drives each instance call by call (its scorer defines `session`)."""
        return self._scorer.session is not None

    def open_session(self, instance: Instance) -> Any:
        """The scorer's host-side state for one instance of an interactive task (`session(instance)`)."""
        if self._scorer.session is None:
            raise UsageError(f"task {self.name!r} is not interactive: its scorer.py defines no session()")
        return self._scorer.session(instance)

    def instances(self, split: str, seed: int) -> list[Instance]:
        """The instances of `split` generated from `seed` (instance i from seed + i), cached."""
        if split not in SPLITS:
            raise UsageError(f"unknown split {split!r}: use 'val' or 'test'")
        key = (split, int(seed))
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        generated = self._generate(split, int(seed))
        with self._lock:
            self._cache[key] = generated
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return generated

    def _generate(self, split: str, seed: int) -> list[Instance]:
        count = self.n_instances[split]
        where = f"task {self.name!r}: scorer.py instances({split!r}, {seed})"
        try:
            if self._scorer.wants_count:
                raw = self._scorer.instances(split, seed, count)
            else:
                raw = self._scorer.instances(split, seed)
            items = list(raw)
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(f"{where} raised {type(exc).__name__}: {exc}") from exc
        if len(items) != count:
            raise UsageError(f"{where} returned {len(items)} instances; task.toml says {split} = {count}")
        return [_as_instance(item, where, i) for i, item in enumerate(items)]

    def judge(self, instance: Instance, output: Any) -> tuple[float, str | None]:
        """Score one output and say why it failed, if it did: (score in [failure value, 1], reason).

        Malformed outputs (`InvalidOutput`, or a scorer that returns None) and a scorer that raises on
        an odd output both give the failure value: an untrusted output must never crash the host or
        score more than a failure. A scorer that returns something other than a number in [0, 1] is a
        bug in the task, reported as a `UsageError`.
        """
        score, reason, _ = self.assess(instance, output)
        return score, reason

    def assess(self, instance: Instance, output: Any) -> tuple[float, str | None, Score | None]:
        """`judge` plus what the scorer returned beside the number (`Score` metrics and events).

        The third item is None when the output failed or the scorer returned a bare number.
        """
        try:
            raw = self._scorer.score(instance, output)
        except InvalidOutput as exc:
            return self.failure_value, _one_line(f"invalid output: {exc}"), None
        except Exception as exc:
            reason = _one_line(f"invalid output (scorer raised {type(exc).__name__}: {exc})")
            return self.failure_value, reason, None
        if raw is None:
            return self.failure_value, "invalid output", None
        if self.protocol == "paper":  # the original's own scale: may leave [0, 1] (maxcut, parity_noiseless)
            paper_value = _as_float(raw)
            if paper_value is None:
                return self.failure_value, "invalid output", None
            return paper_value, None, None
        detail = raw if isinstance(raw, Score) else None
        value = self._checked_score(raw.value if detail is not None else raw)
        # The failure value is the bottom of the scale: a valid but worthless answer (a cut of weight
        # 0, 0% accuracy) must not score below an invalid one, or failing would pay.
        return max(value, self.failure_value), None, detail

    def score(self, instance: Instance, output: Any) -> float:
        """The score of one output in [0, 1]; the failure value if the output is invalid."""
        return self.judge(instance, output)[0]

    def _checked_score(self, raw: Any) -> float:
        if isinstance(raw, bool | np.bool_) or not isinstance(raw, int | float | np.integer | np.floating):
            raise UsageError(
                f"task {self.name!r}: scorer.py score() returned {type(raw).__name__}, not a float"
            )
        value = float(raw)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise UsageError(
                f"task {self.name!r}: scorer.py score() returned {value}; scores must be in [0, 1]"
            )
        return value


def _as_float(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def _one_line(text: str, limit: int = 300) -> str:
    """A reason fit for a table cell and the run store: an exception about a huge untrusted output
    can quote all of it."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _as_instance(item: Any, where: str, index: int) -> Instance:
    """Accept an `Instance` or a plain `(args, hidden)` pair from a scorer; refuse anything else."""
    if isinstance(item, Instance):
        args, hidden = item.args, item.hidden
    elif isinstance(item, tuple | list) and len(item) == 2:
        args, hidden = item
    else:
        raise UsageError(f"{where}: instance {index} must be an Instance or an (args, hidden) pair")
    if not isinstance(args, list | tuple):
        raise UsageError(
            f"{where}: instance {index} args must be a list of arguments, got {type(args).__name__}"
        )
    return Instance(args=[_frozen(arg) for arg in args], hidden=hidden)


def _frozen(value: Any) -> Any:
    """Numpy arguments become read-only, self-owned arrays.

    Cached instances are shared by every evaluation and thread, so nothing may modify them; and the
    sandbox recognises a frozen array by identity and ships it once through shared memory instead of
    hashing and copying it on every evaluation (200 x 200 Max-Cut matrices, 100 per call).
    """
    if not isinstance(value, np.ndarray):
        return value
    if value.base is not None or not value.flags.c_contiguous:
        value = np.ascontiguousarray(value).copy()
    value.setflags(write=False)
    return value
