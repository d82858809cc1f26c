"""Pydantic models of the settings files users write: a task directory's `task.toml` and an OpenEvolve
directory's `config.yaml`, checked when a task is loaded (eval, improve, run).

Why models: one declaration gives the keys, their types, ranges and defaults. `task.toml` is our own
file, so unknown keys are refused (a misspelt key would otherwise be dropped silently). `config.yaml` is
OpenEvolve's, read the way OpenEvolve reads it: the keys selftaught uses are typed strictly, every other
key is left alone (OpenEvolve itself drops keys it does not know, and evaluators read sections of their
own), and the loader says in one warning line which keys it ignored. Why here and not in `taskfile.py`:
listing tasks (`selftaught tasks`) must start fast and reads the built-ins' task.toml without pydantic.

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
# OpenEvolve 0.4.1's defaults (openevolve/config.py): a 300 s limit per evaluation (per cascade stage),
# its cascade thresholds, and the MAP-Elites dimensions its fitness leaves out.
DEFAULT_EVALUATOR_TIMEOUT = 300.0
DEFAULT_THRESHOLDS = (0.5, 0.75, 0.9)
DEFAULT_FEATURE_DIMENSIONS = ("complexity", "diversity")


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
    caveat: str = ""
    """One line saying what a score of this task does not show (e.g. a split that is not held out),
    listed by `selftaught tasks`; never shown to a model."""

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

    @field_validator("description", "caveat")
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


class _Peer(BaseModel):
    """A section of a peer's file: the keys selftaught reads are typed strictly (no coercion); every
    other key is the peer's business and ignored here (`ignored_keys` lists them for one warning)."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)


class EvaluatorSection(_Peer):
    """`evaluator:` of an OpenEvolve config: the keys selftaught reads, with OpenEvolve 0.4.1's defaults."""

    timeout: float = DEFAULT_EVALUATOR_TIMEOUT
    cascade_evaluation: bool = True
    cascade_thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    evaluator_args: dict[str, Any] | None = None

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

    @field_validator("evaluator_args", mode="before")
    @classmethod
    def _arguments(cls, value: Any) -> Any:
        if value is not None and not isinstance(value, dict):
            raise ValueError(f"must be a table of keyword arguments, got {_kind(value)}")
        if isinstance(value, dict):
            bad = [key for key in value if not (isinstance(key, str) and key.isidentifier())]
            if bad:
                raise ValueError(f"keys must be Python identifiers, got {bad[0]!r}")
        return value


class DatabaseSection(_Peer):
    """`database:` of an OpenEvolve config: only the MAP-Elites feature dimensions matter to the score
    (OpenEvolve leaves them out of a program's fitness)."""

    feature_dimensions: tuple[str, ...] = DEFAULT_FEATURE_DIMENSIONS

    @field_validator("feature_dimensions", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        if not isinstance(value, list):
            raise ValueError(f"must be a list of metric names, got {_kind(value)}")
        return tuple(value)


class OpenEvolveConfig(_Peer):
    """An OpenEvolve `config.yaml` read the way OpenEvolve reads it: the keys selftaught uses are
    checked; models, prompts, budgets and the evaluator's own sections (e.g. `algotune:`) are not ours
    and pass untouched (the evaluator may read the file itself)."""

    evaluator: EvaluatorSection = Field(default_factory=EvaluatorSection)
    database: DatabaseSection = Field(default_factory=DatabaseSection)

    @field_validator("evaluator", "database", mode="before")
    @classmethod
    def _empty(cls, value: Any) -> Any:
        return {} if value is None else value  # `evaluator:` with nothing under it


def _words(text: str) -> list[str]:
    return text.split()


# The keys OpenEvolve 0.4.1 itself knows where selftaught reads some: a known key is never a typo.
OPENEVOLVE_KEYS = {
    "": _words("""max_iterations checkpoint_interval checkpoint_on_improvement log_level log_dir logger_prefix
        random_seed language file_suffix llm prompt database evaluator evolution_trace
        diff_based_evolution full_rewrite_probability max_code_length enforce_evolve_blocks diff_pattern
        early_stopping_patience convergence_threshold early_stopping_metric max_tasks_per_child"""),
    "evaluator": _words("""timeout max_retries memory_limit_mb cpu_limit cascade_evaluation cascade_thresholds
        parallel_evaluations distributed use_llm_feedback llm_feedback_weight enable_artifacts
        max_artifact_storage evaluator_args"""),
    "database": _words("""db_path in_memory log_prompts population_size archive_size num_islands
        island_initial_programs elite_selection_ratio exploration_ratio exploitation_ratio
        diversity_metric feature_dimensions feature_bins diversity_reference_size migration_interval
        migration_rate random_seed artifacts_base_path artifact_size_threshold cleanup_old_artifacts
        artifact_retention_days max_snapshot_artifacts novelty_llm embedding_model embedding_api_base
        similarity_threshold"""),
}


def ignored_keys(data: Any) -> list[str]:
    """The keys of a parsed `config.yaml` selftaught does not read, as dotted paths, each with a
    did-you-mean when it is a near-miss of a key selftaught reads and not a key OpenEvolve knows.

    Sections selftaught does not read at all (`llm`, `prompt`, `algotune`, ...) are listed by name only.
    """
    if not isinstance(data, dict):
        return []
    found: list[str] = []
    sections: dict[str, type[BaseModel]] = {"": OpenEvolveConfig}
    for name, info in OpenEvolveConfig.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            sections[name] = info.annotation
    for section, model in sections.items():
        table = data if not section else data.get(section)
        if not isinstance(table, dict):
            continue
        read = list(model.model_fields)
        known = OPENEVOLVE_KEYS.get(section, [])
        for key in table:
            if str(key) in read:
                continue
            path = f"{section}.{key}" if section else str(key)
            hint = "" if str(key) in known else suggest(str(key), read)
            found.append(path + hint)
    return found


def load_task_file(path: Path) -> TaskFile:
    """`task.toml` parsed and checked; `UsageError` naming the file and key for any problem."""
    return check(TaskFile, read_toml(path), str(path))


def load_openevolve_config(path: Path, text: str) -> tuple[OpenEvolveConfig, list[str]]:
    """An OpenEvolve `config.yaml` (its `text`, read by the caller) parsed and checked, with the keys
    selftaught ignores (`ignored_keys`)."""
    import yaml  # a dependency: without it a user's config.yaml would be silently ignored

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    data = {} if data is None else data
    return check(OpenEvolveConfig, data, str(path)), ignored_keys(data)


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
