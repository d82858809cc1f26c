"""Downstream tasks: the paper's six problems and users' own task directories.

A task pairs what the LM may see (entry-point signature, seed algorithm, utility text) with what only
the trusted host holds (instance generation with labels or optima, strict scoring). `evaluate` runs a
program on a task's instances in the sandbox and scores it. `Task` is the protocol every kind of task
fulfils (host-scored and OpenEvolve; see tasks/kind.py). See docs/tasks.md.

Names are imported on first use (PEP 562), so reading `selftaught.tasks.catalog` (task listing) does
not import numpy or the sandbox.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selftaught.tasks.catalog import BEYOND_PAPER_NAMES, BUILTIN_NAMES, PAPER_NAMES
    from selftaught.tasks.directory import load_task_directory
    from selftaught.tasks.evaluation import Evaluation, InstanceScore, draw_test_seed, evaluate, resolve_seed
    from selftaught.tasks.kind import Task
    from selftaught.tasks.model import SPLITS, VAL_SEED_BASE, HostScoredTask, Instance
    from selftaught.tasks.outcome import Score
    from selftaught.tasks.program import read_program, validate_program
    from selftaught.tasks.registry import builtin_task, is_paper_task, list_tasks, load_task
    from selftaught.tasks.scaffold import new_task
    from selftaught.tasks.validation import (
        InvalidOutput,
        binary_vector,
        describe,
        permutation,
        real_array,
        string_over,
    )

_WHERE = {
    "BEYOND_PAPER_NAMES": "catalog",
    "BUILTIN_NAMES": "catalog",
    "PAPER_NAMES": "catalog",
    "Score": "outcome",
    "is_paper_task": "registry",
    "real_array": "validation",
    "load_task_directory": "directory",
    "Evaluation": "evaluation",
    "InstanceScore": "evaluation",
    "draw_test_seed": "evaluation",
    "evaluate": "evaluation",
    "resolve_seed": "evaluation",
    "SPLITS": "model",
    "VAL_SEED_BASE": "model",
    "Instance": "model",
    "Task": "kind",
    "HostScoredTask": "model",
    "read_program": "program",
    "validate_program": "program",
    "builtin_task": "registry",
    "list_tasks": "registry",
    "load_task": "registry",
    "new_task": "scaffold",
    "InvalidOutput": "validation",
    "binary_vector": "validation",
    "describe": "validation",
    "permutation": "validation",
    "string_over": "validation",
}

__all__ = [
    "BEYOND_PAPER_NAMES",
    "BUILTIN_NAMES",
    "PAPER_NAMES",
    "SPLITS",
    "VAL_SEED_BASE",
    "Evaluation",
    "HostScoredTask",
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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'selftaught.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"selftaught.tasks.{module}"), name)
    globals()[name] = value
    return value
