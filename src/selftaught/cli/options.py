"""Flags shared by the commands that run STOP, declared once, their help derived from `selftaught.defaults`.

Every flag defaults to None ("not given") so that `selftaught.toml` values apply unless the flag is
passed; `selftaught.config.load_settings` merges and checks them. The help text (meaning, allowed
values, default) is built from the same table the settings model reads, so it cannot drift, and
building it imports nothing heavier than typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from selftaught.defaults import flag_help


def _flag(name: str, *aliases: str) -> Any:
    return typer.Option("--" + name.replace("_", "-"), *aliases, help=flag_help(name), show_default=False)


Task = Annotated[str | None, _flag("task")]
Model = Annotated[str | None, _flag("model")]
Improver = Annotated[str | None, _flag("improver")]
Iterations = Annotated[int | None, _flag("iterations", "-T")]
Tests = Annotated[int | None, _flag("tests")]
Seeds = Annotated[int | None, _flag("seeds")]
ResponsesPerCall = Annotated[int | None, _flag("responses_per_call")]
LmCalls = Annotated[int | None, _flag("lm_calls")]
UtilityBudget = Annotated[int | None, _flag("utility_budget")]
Seed = Annotated[int | None, _flag("seed")]
TestSeed = Annotated[int | None, _flag("test_seed")]
RunsDir = Annotated[Path | None, _flag("runs_dir")]
Sandbox = Annotated[str | None, _flag("sandbox")]
Workers = Annotated[int | None, _flag("workers")]
Executor = Annotated[str | None, _flag("executor")]
RayAddress = Annotated[str | None, _flag("ray_address")]
ApiKeyEnv = Annotated[str | None, _flag("api_key_env")]
MaxTokens = Annotated[int | None, _flag("max_tokens")]
MaxCost = Annotated[float | None, _flag("max_cost")]
Concurrency = Annotated[int | None, _flag("concurrency")]
ImproverTimeout = Annotated[float | None, _flag("improver_timeout")]
MetaImproverTimeout = Annotated[float | None, _flag("meta_improver_timeout")]
Protocol = Annotated[str | None, _flag("protocol")]
Preflight = Annotated[
    bool | None,
    typer.Option("--preflight/--no-preflight", help=flag_help("preflight")),
]
Config = Annotated[
    Path | None, typer.Option("--config", help="Settings file. (default: ./selftaught.toml if present)")
]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def overrides(**flags: Any) -> dict[str, Any]:
    """Flag values that were actually given (None means 'use the config file or default')."""
    return {key: value for key, value in flags.items() if value is not None}


def runs_dir(given: Path | None, config: Path | None = None) -> Path:
    """`--runs-dir`, else `selftaught.toml`'s, else the default (for commands that only read runs)."""
    if given is not None:
        return given
    from selftaught.config import load_settings

    return load_settings({}, config).runs_dir
