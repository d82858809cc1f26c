"""Find tasks by name or path: the built-ins (the paper's six, then ours), or a user's task directory.

Built-ins are ordinary task directories shipped inside the package (`tasks/builtin/<name>/`), loaded
once per process and shared, so their instance caches are shared too.
"""

from __future__ import annotations

import threading
from pathlib import Path

from selftaught.defaults import suggest
from selftaught.errors import UsageError
from selftaught.tasks.catalog import BEYOND_PAPER_NAMES, BUILTIN_DIR, BUILTIN_NAMES, PAPER_NAMES
from selftaught.tasks.directory import load_task_directory
from selftaught.tasks.host_scored import HostScoredTask
from selftaught.tasks.scoring_protocol import check_protocol
from selftaught.tasks.task import Task

__all__ = [
    "BEYOND_PAPER_NAMES",
    "BUILTIN_NAMES",
    "PAPER_NAMES",
    "builtin_task",
    "is_paper_task",
    "list_tasks",
    "load_task",
]

_loaded: dict[tuple[str, str], HostScoredTask] = {}
_lock = threading.Lock()


def builtin_task(name: str, protocol: str = "strict") -> HostScoredTask:
    """The built-in task `name` under `protocol` (loaded once per process).

    The paper variant is a task directory of its own (`builtin/<name>/paper/`): the original code's
    generators, seeds, scoring and texts, kept apart so the strict task never depends on them.
    """
    if name not in BUILTIN_NAMES:
        raise UsageError(
            f"unknown task {name!r}{suggest(name, BUILTIN_NAMES)}: choose one of {', '.join(BUILTIN_NAMES)}"
        )
    key = (name, check_protocol(protocol))
    with _lock:
        task = _loaded.get(key)
        if task is None:
            directory = BUILTIN_DIR / name
            if key[1] == "paper":
                directory = directory / "paper"
                if not directory.is_dir():
                    raise UsageError(
                        f"task {name!r} has no paper-protocol variant: choose one of the "
                        f"paper's, e.g. --task parity_noise"
                    )
            task = load_task_directory(directory, builtin=True)
            _loaded[key] = task
        return task


def list_tasks(protocol: str = "strict", *, paper_only: bool = False) -> list[HostScoredTask]:
    """The built-in tasks: the paper's in its order, then (unless `paper_only` or under the paper
    protocol, which has no variant of them) the ones beyond it."""
    paper = paper_only or check_protocol(protocol) == "paper"
    return [builtin_task(name, protocol) for name in (PAPER_NAMES if paper else BUILTIN_NAMES)]


def is_paper_task(task: Task) -> bool:
    """True for the built-in tasks of the STOP paper (not for ours nor for users' directories)."""
    return task.builtin and task.name in PAPER_NAMES


def load_task(spec: str, protocol: str = "strict") -> Task:
    """A built-in task by name, a task directory by path, or `openevolve:PATH`; else a UsageError.

    The paper protocol exists only for the six built-ins: it reproduces the original code, which has
    no counterpart for a user's task.
    """
    if spec in BUILTIN_NAMES:
        return builtin_task(spec, protocol)
    if check_protocol(protocol) == "paper":
        raise UsageError(
            f"--protocol paper applies to the built-in tasks only ({', '.join(BUILTIN_NAMES)}), not {spec!r}"
        )
    if spec.startswith("openevolve:"):
        from selftaught.tasks.openevolve_directory import load_openevolve_task

        return load_openevolve_task(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        return load_task_directory(path)
    if "/" in spec or spec.startswith(".") or path.exists():
        raise UsageError(f"task directory {spec!r} does not exist or is not a directory")
    raise UsageError(
        f"unknown task {spec!r}{suggest(spec, BUILTIN_NAMES)}: choose one of {', '.join(BUILTIN_NAMES)}, "
        "or give a task directory"
    )


def absolute_task(spec: str, base: Path) -> str:
    """`spec` with a task directory (or `openevolve:PATH`) made absolute against `base`; built-in names
    unchanged. Runs store this, so a run resumes from any working directory."""
    if spec in BUILTIN_NAMES:
        return spec
    prefix = "openevolve:" if spec.startswith("openevolve:") else ""
    path = Path(spec.removeprefix(prefix)).expanduser()
    if not prefix and not (path.is_dir() or "/" in spec or spec.startswith(".")):
        return spec  # not a path: load_task says what is wrong with it
    return prefix + str(path if path.is_absolute() else (base / path).resolve())


def stored_task(spec: str, bases: list[Path]) -> str:
    """A run's stored task as a loadable spec: an old run stored a task directory as typed (relative);
    it is resolved against the first of `bases` (the run's working directory, ...) where it exists."""
    if spec in BUILTIN_NAMES:
        return spec
    prefix = "openevolve:" if spec.startswith("openevolve:") else ""
    path = Path(spec.removeprefix(prefix)).expanduser()
    if path.is_absolute():
        return spec
    for base in bases:
        if (base / path).is_dir():
            return prefix + str((base / path).resolve())
    return spec
