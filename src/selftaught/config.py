"""Run configuration: the paper's budgets as defaults, overridable by `selftaught.toml` and flags.

Precedence is defaults < `selftaught.toml` (in the working directory, or `--config FILE`) < command-line
flags. The effective configuration is stored with every run, so a run can be reproduced from its store.
Defaults, ranges and allowed values live in `selftaught.defaults` (stdlib only, read by the CLI's help
too); this module adds the typed pydantic record and the file reader.

`selftaught.toml` layout, sections as in `selftaught.defaults.SECTIONS` (flat keys, at the top level or
in a `[selftaught]` table, keep working):

    [run]
    task = "three_sat"
    iterations = 4
    [lm]
    model = "openai/gpt-4o"
    max-cost = 20.0
    [sandbox]
    mode = "strong"
    [executor]
    kind = "local"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from selftaught.defaults import KNOBS, SECTIONS, Knob, check_value, suggest
from selftaught.errors import UsageError

CONFIG_FILE = "selftaught.toml"


def _field(name: str) -> Any:
    """A pydantic Field with the default, bounds and description of knob `name` (stated once)."""
    knob = KNOBS[name]
    bounds: dict[str, float] = {}
    if knob.low is not None:
        bounds["gt" if knob.low_open else "ge"] = knob.low
    if knob.high is not None:
        bounds["le"] = knob.high
    return Field(knob.default, description=knob.help, **bounds)  # type: ignore[call-overload]


class Settings(BaseModel):
    """Every knob of a run. Field names are the CLI flag names with `-` replaced by `_`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = _field("task")
    model: str = _field("model")
    improver: str = _field("improver")
    iterations: int = _field("iterations")
    tests: int = _field("tests")
    estimate_tests: int = _field("estimate_tests")
    responses_per_call: int = _field("responses_per_call")
    lm_calls: int = _field("lm_calls")
    utility_budget: int = _field("utility_budget")
    temperature: float = _field("temperature")
    seed: int = _field("seed")
    seeds: int = _field("seeds")
    test_seed: int | None = _field("test_seed")
    improver_timeout: float = _field("improver_timeout")
    meta_improver_timeout: float = _field("meta_improver_timeout")
    runs_dir: Path = _field("runs_dir")
    sandbox: Literal["strong", "weak"] = _field("sandbox")
    workers: int | None = _field("workers")
    executor: Literal["local", "ray"] = _field("executor")
    ray_address: str = _field("ray_address")
    api_key_env: str = _field("api_key_env")
    max_tokens: int = _field("max_tokens")
    request_timeout: float = _field("request_timeout")
    concurrency: int = _field("concurrency")
    max_retries: int = _field("max_retries")
    max_cost: float | None = _field("max_cost")
    prices_file: Path | None = _field("prices_file")
    cache: Literal["off", "read-write", "replay"] = _field("cache")
    protocol: Literal["strict", "paper"] = _field("protocol")
    preflight: bool = _field("preflight")


def load_settings(
    overrides: dict[str, Any], config_file: Path | None = None, *, read_file: bool = True
) -> Settings:
    """Merge defaults, the TOML file and explicit overrides (None values mean 'not given').

    Every value is checked where it was written, so an error names the flag (`--tests`) or the file
    key (`selftaught.toml: run.tests`), the allowed values and a close match. `read_file=False` skips
    `./selftaught.toml` (a resumed run keeps its stored settings).
    """
    values: dict[str, Any] = {}
    path = config_file if config_file is not None else Path(CONFIG_FILE)
    if config_file is not None:
        if path.is_dir():
            raise UsageError(
                f"--config {path} is a directory; give the settings file itself "
                f"(e.g. --config {path / CONFIG_FILE})"
            )
        if not path.is_file():
            raise UsageError(f"--config {path}: no such file")
    if read_file and path.is_file():
        values.update(read_config_file(path))
    for name, value in overrides.items():
        if value is None:
            continue
        values[name] = _checked(
            name, value, KNOBS[name].flag if name in KNOBS else f"--{name.replace('_', '-')}"
        )
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "config"
        where = KNOBS[field].flag if field in KNOBS else f"--{field.replace('_', '-')}"
        raise UsageError(f"{where}: {first['msg'].lower()}") from None


def _checked(name: str, value: Any, where: str) -> Any:
    knob = KNOBS.get(name)
    if knob is None:
        return value  # a setting without a knob entry: pydantic checks it
    try:
        return check_value(knob, value, where)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def read_config_file(path: Path) -> dict[str, Any]:
    """Flat settings from a `selftaught.toml`: sections ([run], [lm], ...) or flat keys, dashes or not."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read ({exc.strerror})") from None
    table = data.get("selftaught", data)
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [selftaught] must be a table")
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key in SECTIONS and isinstance(value, dict):
            for inner, item in value.items():
                name = _section_name(path, key, inner)
                values[name] = _checked(name, item, f"{path}: {key}.{inner}")
        else:
            name = _flat_name(path, key)
            values[name] = _checked(name, value, f"{path}: {key}")
    return values


def _section_name(path: Path, section: str, key: str) -> str:
    normal = key.replace("-", "_")
    for knob in _in_section(section):
        if normal in (knob.name, knob.section_key):
            return knob.name
    allowed = sorted({k.section_key.replace("_", "-") for k in _in_section(section)})
    raise UsageError(
        f"{path}: unknown setting {section}.{key} (allowed in [{section}]: {', '.join(allowed)})"
        f"{suggest(key.replace('_', '-'), allowed)}"
    )


def _flat_name(path: Path, key: str) -> str:
    normal = key.replace("-", "_")
    if normal in KNOBS or normal in Settings.model_fields:
        return normal
    names = sorted(name.replace("_", "-") for name in Settings.model_fields)
    raise UsageError(
        f"{path}: unknown setting {key!r} (sections: {', '.join(SECTIONS)})"
        f"{suggest(key.replace('_', '-'), names)}"
    )


def _in_section(section: str) -> list[Knob]:
    return [knob for knob in KNOBS.values() if knob.section == section]
