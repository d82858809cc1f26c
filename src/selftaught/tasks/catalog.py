"""The built-in tasks by name, and their settings read without loading them (stdlib only).

Why apart from the registry: listing tasks needs only each `task.toml`; loading a task imports its
scorer (numpy) and, to evaluate, the sandbox. `selftaught tasks` reads this catalog and starts fast.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selftaught.tasks.taskfile import SPLITS, read_toml

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"

PAPER_NAMES: tuple[str, ...] = (
    "parity_noise",
    "parity_noiseless",
    "three_sat",
    "maxcut",
    "modified_quadratic_assignment",
    "str_grid_dist",
)
"""The paper's tasks, the training task (learning parity with noise) first."""

BEYOND_PAPER_NAMES: tuple[str, ...] = ("circle_packing", "bin_packing")
"""Built-ins that are not in the paper: the peers' benchmarks (AlphaEvolve's circle packing, FunSearch's
online bin packing), so results compare with theirs. Defaults that reproduce the paper (the transfer
table's task set) use `PAPER_NAMES` only, and the paper protocol knows only those."""

BUILTIN_NAMES: tuple[str, ...] = PAPER_NAMES + BEYOND_PAPER_NAMES


@dataclass(frozen=True)
class TaskInfo:
    """What `task.toml` says about a task (the same fields a loaded `Task` has)."""

    name: str
    description: str
    entry_point: str
    signature: str
    instance_timeout: float
    n_instances: dict[str, int]
    failure_value: float
    paper: bool = False  # one of the STOP paper's tasks (not ours beyond it)
    caveat: str = ""  # what a score of the task does not show (task.toml `caveat`)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "entry_point": self.entry_point,
            "signature": self.signature,
            "instance_timeout": self.instance_timeout,
            "instances": dict(self.n_instances),
            "failure_value": self.failure_value,
            "paper": self.paper,
        }


def task_info(directory: Path, *, paper: bool = False) -> TaskInfo:
    """The fields shown, read without checks: the built-ins' task.toml are checked by their tests, which
    load every one through the model (loading pydantic here would slow `selftaught tasks` down)."""
    data = read_toml(directory / "task.toml")
    return TaskInfo(
        name=data["name"],
        description=data["description"].strip(),
        entry_point=data["entry_point"],
        signature=data["signature"],
        instance_timeout=float(data["instance_timeout"]),
        n_instances={split: data["instances"][split] for split in SPLITS},
        failure_value=float(data["failure_value"]),
        paper=paper,
        caveat=str(data.get("caveat", "")).strip(),
    )


def builtin_infos() -> list[TaskInfo]:
    """The built-in tasks' settings: the paper's six in its order, then ours beyond it."""
    return [task_info(BUILTIN_DIR / name, paper=name in PAPER_NAMES) for name in BUILTIN_NAMES]


NO_TEST_SPLIT = (
    "no test split: an OpenEvolve evaluator takes no seed, so a test score would repeat validation"
)


def has_test_split(task_name: str) -> bool:
    """Whether a task (by its name, as runs store it) has a held-out test split. OpenEvolve tasks do
    not: their evaluator takes no seed, so "test" would only run validation again."""
    return not task_name.startswith("openevolve:")
