"""`Task`: what every kind of task offers the layers above (STOP, the CLI, reports).

Two implementations, neither a stub of the other:
- `HostScoredTask` (tasks/host_scored.py): instances generated and outputs judged in the host by the task's
  hidden `scorer.py`; the program runs once per instance in the sandbox (the six paper tasks, the
  tasks beyond it, users' task directories).
- `OpenEvolveTask` (tasks/openevolve.py): an OpenEvolve directory whose own `evaluator.py` scores a
  candidate inside the sandbox; there are no host-side instances or judge.

Callers that only score programs use this protocol; code that needs instances or the judge
(evaluation.py, interactive.py, paper.py) takes a `HostScoredTask`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from selftaught.sandbox.executor import Executor
    from selftaught.tasks.result import Evaluation


class Task(Protocol):
    """A downstream task: what the LM may see, and how a program is scored."""

    name: str
    description: str
    entry_point: str
    signature: str
    instance_timeout: float
    n_instances: dict[str, int]
    failure_value: float
    seed_algorithm: str
    utility_source: str
    directory: Path | None
    builtin: bool
    protocol: str

    @property
    def bounded(self) -> bool:
        """Whether utilities stay in [0, 1]: strict host-scored tasks do; the paper protocol's original
        scales and OpenEvolve evaluators' own scales do not (nothing is clipped; 0 stays the failure
        value)."""
        ...

    def utility_text(self, budget: int | None = None) -> str:
        """The `utility.str` shown to the LM (with the budget stated when one is given)."""
        ...

    def check_program(self, source: str) -> str | None:
        """One line saying why `source` cannot be run on this task (static, never executed), or None."""
        ...

    def evaluate(
        self, source: str, *, split: str = "val", seed: int | None = None, executor: Executor
    ) -> Evaluation:
        """Score `source` in the sandbox; a broken program scores the failure value, never raises."""
        ...
