"""Downstream tasks: the paper's six problems and users' own task directories.

A task pairs what the LM may see (entry-point signature, seed algorithm, utility text) with what only
the trusted host holds (instance generation with labels or optima, strict scoring). `evaluate` runs a
program on a task's instances in the sandbox and scores it. See docs/tasks.md.
"""

from selftaught.tasks.directory import load_task_directory
from selftaught.tasks.evaluation import (
    Evaluation,
    InstanceScore,
    draw_test_seed,
    evaluate,
    resolve_seed,
)
from selftaught.tasks.model import SPLITS, VAL_SEED_BASE, Instance, Task
from selftaught.tasks.outcome import Score
from selftaught.tasks.program import read_program, validate_program
from selftaught.tasks.registry import (
    BEYOND_PAPER_NAMES,
    BUILTIN_NAMES,
    PAPER_NAMES,
    builtin_task,
    is_paper_task,
    list_tasks,
    load_task,
)
from selftaught.tasks.scaffold import new_task
from selftaught.tasks.validation import (
    InvalidOutput,
    binary_vector,
    describe,
    permutation,
    real_array,
    string_over,
)

__all__ = [
    "BEYOND_PAPER_NAMES",
    "BUILTIN_NAMES",
    "PAPER_NAMES",
    "SPLITS",
    "VAL_SEED_BASE",
    "Evaluation",
    "Instance",
    "InstanceScore",
    "InvalidOutput",
    "Score",
    "Task",
    "binary_vector",
    "builtin_task",
    "describe",
    "draw_test_seed",
    "evaluate",
    "is_paper_task",
    "list_tasks",
    "load_task",
    "load_task_directory",
    "new_task",
    "permutation",
    "read_program",
    "real_array",
    "resolve_seed",
    "string_over",
    "validate_program",
]
