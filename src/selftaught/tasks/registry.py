"""Find tasks by name or path: the six built-ins of the paper, or a user's task directory.

Built-ins are ordinary task directories shipped inside the package (`tasks/builtin/<name>/`), loaded
once per process and shared, so their instance caches are shared too.
"""

from __future__ import annotations

import threading
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.tasks.directory import load_task_directory
from selftaught.tasks.model import Task

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"

BUILTIN_NAMES: tuple[str, ...] = (
    "parity_noise",
    "parity_noiseless",
    "three_sat",
    "maxcut",
    "modified_quadratic_assignment",
    "str_grid_dist",
)
"""The paper's tasks, the training task (learning parity with noise) first."""

_loaded: dict[str, Task] = {}
_lock = threading.Lock()


def builtin_task(name: str) -> Task:
    """The built-in task `name` (loaded once per process)."""
    if name not in BUILTIN_NAMES:
        raise UsageError(f"unknown task {name!r}: choose one of {', '.join(BUILTIN_NAMES)}")
    with _lock:
        task = _loaded.get(name)
        if task is None:
            task = load_task_directory(BUILTIN_DIR / name, builtin=True)
            _loaded[name] = task
        return task


def list_tasks() -> list[Task]:
    """All built-in tasks, in the paper's order."""
    return [builtin_task(name) for name in BUILTIN_NAMES]


def load_task(spec: str) -> Task:
    """A built-in task by name, a task directory by path, or `openevolve:PATH`; else a UsageError."""
    if spec in BUILTIN_NAMES:
        return builtin_task(spec)
    if spec.startswith("openevolve:"):
        from selftaught.tasks.openevolve import load_openevolve_task

        return load_openevolve_task(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_task_directory(path)
    if "/" in spec or spec.startswith(".") or path.exists():
        raise UsageError(f"task directory {spec!r} does not exist or is not a directory")
    raise UsageError(f"unknown task {spec!r}: choose one of {', '.join(BUILTIN_NAMES)}, or give a task directory")
