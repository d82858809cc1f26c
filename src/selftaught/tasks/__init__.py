"""Downstream tasks: the paper's six problems and users' own task directories.

A task pairs what the LM may see (entry-point signature, seed algorithm, utility text) with what only
the trusted host holds (instance generation with labels or optima, strict scoring). `evaluate` runs a
program on a task's instances in the sandbox and scores it. `Task` is the protocol every kind of task
fulfils (host-scored and OpenEvolve; see tasks/task.py). See docs/tasks.md.

Names are imported on first use (PEP 562), so reading `selftaught.tasks.catalog` (task listing) does
not import numpy or the sandbox.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; the names are imported on first use through _WHERE
    from selftaught.tasks.catalog import (
        BEYOND_PAPER_NAMES as BEYOND_PAPER_NAMES,
    )
    from selftaught.tasks.catalog import (
        BUILTIN_NAMES as BUILTIN_NAMES,
    )
    from selftaught.tasks.catalog import (
        PAPER_NAMES as PAPER_NAMES,
    )
    from selftaught.tasks.directory import (
        load_task_directory as load_task_directory,
    )
    from selftaught.tasks.evaluation import (
        evaluate as evaluate,
    )
    from selftaught.tasks.evaluation import (
        resolve_seed as resolve_seed,
    )
    from selftaught.tasks.host_scored import (
        SPLITS as SPLITS,
    )
    from selftaught.tasks.host_scored import (
        VAL_SEED_BASE as VAL_SEED_BASE,
    )
    from selftaught.tasks.host_scored import (
        HostScoredTask as HostScoredTask,
    )
    from selftaught.tasks.host_scored import (
        Instance as Instance,
    )
    from selftaught.tasks.outcome import (
        Score as Score,
    )
    from selftaught.tasks.program import (
        read_program as read_program,
    )
    from selftaught.tasks.program import (
        validate_program as validate_program,
    )
    from selftaught.tasks.registry import (
        builtin_task as builtin_task,
    )
    from selftaught.tasks.registry import (
        is_paper_task as is_paper_task,
    )
    from selftaught.tasks.registry import (
        list_tasks as list_tasks,
    )
    from selftaught.tasks.registry import (
        load_task as load_task,
    )
    from selftaught.tasks.result import (
        Evaluation as Evaluation,
    )
    from selftaught.tasks.result import (
        InstanceScore as InstanceScore,
    )
    from selftaught.tasks.scaffold import (
        new_task as new_task,
    )
    from selftaught.tasks.scoring_protocol import (
        draw_test_seed as draw_test_seed,
    )
    from selftaught.tasks.task import (
        Task as Task,
    )
    from selftaught.tasks.validation import (
        InvalidOutput as InvalidOutput,
    )
    from selftaught.tasks.validation import (
        binary_vector as binary_vector,
    )
    from selftaught.tasks.validation import (
        describe as describe,
    )
    from selftaught.tasks.validation import (
        permutation as permutation,
    )
    from selftaught.tasks.validation import (
        real_array as real_array,
    )
    from selftaught.tasks.validation import (
        string_over as string_over,
    )

# Where each public name lives: the one list (the imports above only inform type checkers, and a
# test holds them equal to this table).
_WHERE = {
    "BEYOND_PAPER_NAMES": "catalog",
    "BUILTIN_NAMES": "catalog",
    "PAPER_NAMES": "catalog",
    "load_task_directory": "directory",
    "evaluate": "evaluation",
    "resolve_seed": "evaluation",
    "SPLITS": "host_scored",
    "VAL_SEED_BASE": "host_scored",
    "HostScoredTask": "host_scored",
    "Instance": "host_scored",
    "Score": "outcome",
    "read_program": "program",
    "validate_program": "program",
    "builtin_task": "registry",
    "is_paper_task": "registry",
    "list_tasks": "registry",
    "load_task": "registry",
    "Evaluation": "result",
    "InstanceScore": "result",
    "new_task": "scaffold",
    "draw_test_seed": "scoring_protocol",
    "Task": "task",
    "InvalidOutput": "validation",
    "binary_vector": "validation",
    "describe": "validation",
    "permutation": "validation",
    "real_array": "validation",
    "string_over": "validation",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'selftaught.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"selftaught.tasks.{module}"), name)
    globals()[name] = value
    return value
