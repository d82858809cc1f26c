"""Load a task from its directory: `task.toml`, `seed.py`, `utility.py`, `scorer.py`.

One loader for the six built-in tasks and for users' own problems, so both are the same kind of object
and the format is exercised by every test of the built-ins. Every problem in a directory is reported as
one precise line (`UsageError`, exit code 2) naming the file and the key or function at fault.

Trust: `scorer.py` is imported and run in the host process. It is the task author's own trusted code
(like a test suite), never generated code; `seed.py` and `utility.py` are only read as text.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from selftaught.errors import UsageError
from selftaught.tasks.evaluation import evaluate_instances
from selftaught.tasks.filemodels import load_task_file
from selftaught.tasks.host_scored import HostEvaluator, HostScoredTask, Scorer
from selftaught.tasks.interactive import evaluate_sessions
from selftaught.tasks.paper import evaluate_paper
from selftaught.tasks.program import validate_program
from selftaught.userfiles import read_text

TASK_FILES = ("task.toml", "seed.py", "utility.py", "scorer.py")


def load_task_directory(path: Path, *, builtin: bool = False) -> HostScoredTask:
    """A `Task` from a task directory; `UsageError` with one precise line for any problem in it."""
    if not path.exists():
        raise UsageError(f"task directory {str(path)!r} does not exist")
    if not path.is_dir():
        raise UsageError(f"task path {str(path)!r} is not a directory")
    root = path.resolve()
    for filename in TASK_FILES:
        if not (path / filename).is_file():
            raise UsageError(f"task directory {str(path)!r} has no {filename}")
        if not (path / filename).resolve().is_relative_to(root):
            # A symlink to a host file would hand that file to the sandbox and the LM.
            raise UsageError(
                f"{path / filename} is a link to a file outside the task directory; copy the file in instead"
            )
    config = load_task_file(path / "task.toml")
    seed = _read_text(path / "seed.py")
    problem = validate_program(seed, config.entry_point)
    if problem is not None:
        raise UsageError(f"{path / 'seed.py'}: {problem}")
    utility = _read_text(path / "utility.py")
    if not utility.strip():
        raise UsageError(f"{path / 'utility.py'} is empty: it is the scoring text the LM is shown")
    scorer = _load_scorer(path / "scorer.py", config.name, paper=config.protocol == "paper")
    return HostScoredTask(
        name=config.name,
        description=config.description,
        entry_point=config.entry_point,
        signature=config.signature,
        instance_timeout=config.instance_timeout,
        n_instances={"val": config.instances.val, "test": config.instances.test},
        failure_value=config.failure_value,
        seed_algorithm=seed,
        utility_source=utility,
        scorer=scorer,
        evaluator=_evaluator(scorer),
        directory=path,
        builtin=builtin,
        protocol=config.protocol,
        cascade=config.cascade,
    )


def _evaluator(scorer: Scorer) -> HostEvaluator:
    """How a task with this scorer is scored: host-driven sessions when it defines `session`, the
    original's whole-utility rule when it defines `utility` (paper protocol), else instance by instance."""
    if scorer.session is not None:
        return evaluate_sessions
    if scorer.utility is not None:
        return evaluate_paper
    return evaluate_instances


def _read_text(path: Path) -> str:
    return read_text(path, str(path))


def _load_scorer(path: Path, task_name: str, *, paper: bool = False) -> Scorer:
    """Import scorer.py in the host (trusted task code) and check its two functions (three for paper)."""
    module = _import_file(path, task_name)
    utility = getattr(module, "utility", None) if paper else None
    if paper and not callable(utility):
        raise UsageError(f"{path}: a paper-protocol scorer must define utility(instances, calls)")
    functions = {}
    for name in ("instances", "score"):
        function = getattr(module, name, None)
        if function is None:
            raise UsageError(f"{path}: missing function {name}()")
        if not callable(function):
            raise UsageError(f"{path}: {name} must be a function, got {type(function).__name__}")
        functions[name] = function
    instance_params = _positional_count(functions["instances"])
    if instance_params is not None and instance_params not in (2, 3):
        raise UsageError(f"{path}: instances() must take (split, seed) or (split, seed, count)")
    score_params = _positional_count(functions["score"])
    if score_params is not None and score_params != 2:
        raise UsageError(f"{path}: score() must take (instance, output)")
    stops = getattr(module, "stops", None) if paper else None
    if stops is not None and not callable(stops):
        raise UsageError(f"{path}: stops must be a function, got {type(stops).__name__}")
    session = getattr(module, "session", None)
    if session is not None and not callable(session):
        raise UsageError(f"{path}: session must be a function, got {type(session).__name__}")
    if session is not None and _positional_count(session) not in (None, 1):
        raise UsageError(f"{path}: session() must take (instance)")
    return Scorer(
        instances=functions["instances"],
        score=functions["score"],
        wants_count=instance_params == 3,
        session=session,
        utility=utility,
        stops=stops,
    )


def _positional_count(function: Any) -> int | None:
    """How many positional parameters `function` takes; None when it takes *args or has no signature."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters):
        return None
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in parameters if p.kind in positional)


def _import_file(path: Path, task_name: str) -> ModuleType:
    """Import a file under a private module name unique to its path and content (tasks never collide)."""
    source = path.read_bytes()
    hasher = hashlib.sha256(str(path.resolve()).encode())
    hasher.update(source)  # an edited scorer.py is imported afresh, never a stale copy
    digest = hasher.hexdigest()[:12]
    module_name = f"_selftaught_scorer_{task_name}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        # The bytes hashed above, compiled here: a cached .pyc is validated only by mtime and size, so an
        # edit of the same length within a second would run the old scorer; and no __pycache__ is
        # written into the user's task directory.
        exec(compile(source, str(path), "exec", dont_inherit=True), module.__dict__)
    except Exception as exc:
        del sys.modules[module_name]
        line = _error_line(exc, path)
        raise UsageError(f"{path}: failed to import{line}: {type(exc).__name__}: {exc}") from None
    return module


def _error_line(exc: BaseException, path: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f" (line {exc.lineno})"
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if Path(frame.filename) == path:
            return f" (line {frame.lineno})"
    return ""
