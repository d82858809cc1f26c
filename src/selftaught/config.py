"""Run configuration: the paper's budgets as defaults, overridable by `selftaught.toml` and flags.

Precedence is defaults < `selftaught.toml` (in the working directory, or `--config FILE`) < command-line
flags. The effective configuration is stored with every run, so a run can be reproduced from its store.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from selftaught.errors import UsageError

CONFIG_FILE = "selftaught.toml"


class Settings(BaseModel):
    """Every knob of a run. Field names are the CLI flag names with `-` replaced by `_`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str = "parity_noise"
    model: str = "offline"
    improver: str = "seed"
    iterations: int = Field(3, ge=0, le=100)
    tests: int = Field(5, ge=1, le=1000, description="meta-utility tests (improver runs per estimate)")
    responses_per_call: int = Field(6, ge=1, le=128)
    lm_calls: int = Field(4, ge=1, le=1000, description="LM calls per improver run")
    utility_budget: int = Field(25, ge=1, le=10_000)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    seed: int = Field(0, ge=0, description="run seed: offline model seed and run identity")
    seeds: int = Field(1, ge=1, le=100, description="independent runs to aggregate")
    test_seed: int | None = Field(None, description="fix the secret test-split seed (default: drawn per run)")
    improver_timeout: float = Field(300.0, gt=0, description="wall-clock seconds for one downstream improver run")
    meta_improver_timeout: float = Field(3600.0, gt=0, description="wall-clock seconds for one self-improvement step")
    runs_dir: Path = Path("runs")
    sandbox: Literal["strong", "weak"] = "strong"
    workers: int | None = Field(None, ge=1, le=512)
    executor: Literal["local", "ray"] = "local"
    ray_address: str = "auto"
    api_key_env: str = "OPENAI_API_KEY"
    max_tokens: int = Field(1024, ge=1)
    request_timeout: float = Field(120.0, gt=0)
    concurrency: int = Field(8, ge=1, le=1024)
    max_retries: int = Field(6, ge=0, le=100)
    max_cost: float | None = Field(None, ge=0)
    prices_file: Path | None = None
    cache: Literal["off", "read-write", "replay"] = "read-write"
    protocol: Literal["strict", "paper"] = Field(
        "strict", description="strict (default) or paper: the original code's instances, public seeds and scoring"
    )


def load_settings(overrides: dict[str, Any], config_file: Path | None = None) -> Settings:
    """Merge defaults, the TOML file and explicit overrides (None values mean 'not given')."""
    values: dict[str, Any] = {}
    path = config_file if config_file is not None else Path(CONFIG_FILE)
    if config_file is not None and not path.is_file():
        raise UsageError(f"config file {path} does not exist")
    if path.is_file():
        values.update(_read_toml(path))
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "config"
        raise UsageError(f"invalid setting {where}: {first['msg']}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    table = data.get("selftaught", data)
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [selftaught] must be a table")
    return {key.replace("-", "_"): value for key, value in table.items()}
