"""Pydantic models of the settings files users write: a task directory's `task.toml` and an OpenEvolve
directory's `config.yaml`, checked when a task is loaded (eval, improve, run).

Why models: one declaration gives the keys, their types, ranges and defaults, and refuses unknown keys
(a misspelt key would otherwise be dropped silently). Why here and not in `taskfile.py`: listing tasks
(`selftaught tasks`) must start fast and reads the built-ins' task.toml without pydantic.

Errors are one line in the user's words (`UsageError`, exit code 2): the file, the key, what it must
be, and for an unknown key the nearest allowed one -- never pydantic's own wording.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from selftaught.defaults import suggest
from selftaught.errors import UsageError
from selftaught.tasks.taskfile import DEFAULT_CASCADE, MAX_INSTANCES, MAX_TIMEOUT, NAME_PATTERN, read_toml

MAX_EVALUATOR_TIMEOUT = 3600.0
DEFAULT_EVALUATOR_TIMEOUT = 60.0
DEFAULT_THRESHOLDS = (0.5, 0.75, 0.9)  # OpenEvolve's default cascade_thresholds


class _Strict(BaseModel):
    """No coercion (`"3"` is not 3, `true` is not 1) and no unknown keys."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Instances(_Strict):
    """`[instances]`: how many instances each split has."""

    val: int
    test: int

    @field_validator("val", "test")
    @classmethod
    def _count(cls, value: int) -> int:
        if not 1 <= value <= MAX_INSTANCES:
            raise ValueError(f"must be in 1..{MAX_INSTANCES}, got {value:g}")
        return value


class TaskFile(_Strict):
    """`task.toml`: every key required except `protocol` (`"paper"` only for the built-ins' paper copies)."""

    name: str
    description: str
    entry_point: str
    signature: str
    instance_timeout: float
    failure_value: float
    instances: Instances
    protocol: Literal["strict", "paper"] = "strict"
    cascade: int = DEFAULT_CASCADE
    """Strict protocol: when the first `cascade` instances all fail, the rest are not run (0: never)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"must match [a-z][a-z0-9_]* (up to 64 characters), got {value!r}")
        return value

    @field_validator("description", "signature")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("description")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("must be one line")
        return value.strip()

    @field_validator("entry_point")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.isidentifier():
            raise ValueError(f"must be a Python identifier, got {value!r}")
        return value

    @field_validator("instance_timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 0 < value <= MAX_TIMEOUT:
            raise ValueError(f"must be in (0, {MAX_TIMEOUT:g}] seconds, got {value:g}")
        return value

    @field_validator("cascade")
    @classmethod
    def _cascade(cls, value: int) -> int:
        if not 0 <= value <= MAX_INSTANCES:
            raise ValueError(f"must be in 0..{MAX_INSTANCES} (0: run every instance), got {value:g}")
        return value

    @field_validator("failure_value")
    @classmethod
    def _failure(cls, value: float) -> float:
        if not 0 <= value <= 1:
            raise ValueError(f"must be in [0, 1], got {value:g}")
        return value


class EvaluatorSection(_Strict):
    """`evaluator:` of an OpenEvolve config. selftaught reads `timeout` and `cascade_thresholds`; the
    other keys OpenEvolve knows there are accepted and ignored (the sandbox sets limits and parallelism)."""

    timeout: float = DEFAULT_EVALUATOR_TIMEOUT
    cascade_thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    max_retries: Any = None
    memory_limit_mb: Any = None
    cpu_limit: Any = None
    cascade_evaluation: Any = None
    parallel_evaluations: Any = None
    distributed: Any = None
    use_llm_feedback: Any = None
    llm_feedback_weight: Any = None
    enable_artifacts: Any = None
    max_artifact_storage: Any = None

    @field_validator("cascade_thresholds", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"must be a list of numbers, got {_kind(value)}")
        return tuple(value)  # strict mode takes a tuple field only from a tuple

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        if not 0 < value <= MAX_EVALUATOR_TIMEOUT:
            raise ValueError(f"must be a number of seconds in (0, {MAX_EVALUATOR_TIMEOUT:g}], got {value:g}")
        return value

    @field_validator("cascade_thresholds")
    @classmethod
    def _finite(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if not all(math.isfinite(t) for t in value):
            raise ValueError("must be a list of finite numbers")
        return value


class OpenEvolveConfig(_Strict):
    """An OpenEvolve `config.yaml`: its top-level keys are accepted (models, prompts and budgets come from
    selftaught's own settings, so all but `evaluator` are ignored); a key OpenEvolve does not know is an
    error, so a misspelt `evaluator:` cannot silently drop the timeout."""

    evaluator: EvaluatorSection = Field(default_factory=EvaluatorSection)
    max_iterations: Any = None
    checkpoint_interval: Any = None
    log_level: Any = None
    log_dir: Any = None
    random_seed: Any = None
    language: Any = None
    file_suffix: Any = None
    llm: Any = None
    prompt: Any = None
    database: Any = None
    evolution_trace: Any = None
    hierarchical: Any = None
    diff_based_evolution: Any = None
    max_code_length: Any = None
    early_stopping_patience: Any = None
    convergence_threshold: Any = None
    early_stopping_metric: Any = None

    @field_validator("evaluator", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return {} if value is None else value  # `evaluator:` with nothing under it


def load_task_file(path: Path) -> TaskFile:
    """`task.toml` parsed and checked; `UsageError` naming the file and key for any problem."""
    return check(TaskFile, read_toml(path), str(path))


def load_openevolve_config(path: Path, text: str) -> OpenEvolveConfig:
    """An OpenEvolve `config.yaml` (its `text`, read by the caller) parsed and checked."""
    import yaml  # a dependency: without it a user's config.yaml would be silently ignored

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    return check(OpenEvolveConfig, {} if data is None else data, str(path))


_Model = TypeVar("_Model", bound=BaseModel)


def check(model: type[_Model], data: Any, where: str) -> _Model:
    """`model` validated from `data`; the first problem as one `UsageError` line starting with `where`."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key is both unknown and missing: name the unknown one, its spelling is the cause.
        missing_at = {e["loc"][:-1] for e in errors if e["type"] == "missing"}
        typos = [e for e in errors if e["type"] == "extra_forbidden" and e["loc"][:-1] in missing_at]
        first = typos[0] if typos else errors[0]
        raise UsageError(f"{where}: {_describe(model, first)}") from None


_WANTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "dict_type": "a table",
}


def _describe(model: type[BaseModel], error: Any) -> str:
    """One pydantic error in the words of the file's author."""
    loc = tuple(str(part) for part in error["loc"])
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
    kind = error["type"]
    value = error.get("input")
    if kind == "missing":
        return f"missing key {key!r}"
    if kind == "extra_forbidden":
        prefix = "".join(f"{part}." for part in loc[:-1])
        allowed = [prefix + name for name in _allowed(model, loc[:-1])]
        hint = suggest(key, allowed) or f" (allowed: {', '.join(allowed)})"
        return f"unknown key {key!r}{hint}"
    if kind == "literal_error":
        choices = [c.strip("'") for c in str(error.get("ctx", {}).get("expected", "")).split(" or ")]
        hint = suggest(value, choices) if isinstance(value, str) else ""
        return f"{key!r} must be one of {', '.join(map(repr, choices))}, got {value!r}{hint}"
    if kind == "invalid_key":
        return f"key {''.join(f'{p}.' for p in loc[:-1]) + loc[-1]!r} must be a string (put it in quotes)"
    if kind == "value_error":
        return f"{key!r} {error['ctx']['error']}" if key else str(error["ctx"]["error"])
    wanted = _WANTED.get(kind)
    if wanted is not None:
        return (
            f"{key!r} must be {wanted}, got {_kind(value)}"
            if key
            else f"must be a mapping, got {_kind(value)}"
        )
    return f"{key!r} is not valid ({error['msg']})"


def _allowed(model: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    """The keys allowed at `loc` (a path of nested model fields) in `model`."""
    for part in loc:
        if part.isdigit():  # a list element: stay on the same model
            continue
        annotation = model.model_fields[part].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _kind(value: Any) -> str:
    """The type of `value` as a short word (`str`, `bool`, `list`; YAML's empty value is `null`)."""
    return "null" if value is None else type(value).__name__
