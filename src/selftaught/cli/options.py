"""Flags shared by the commands that run STOP, declared once.

Every flag defaults to None ("not given") so that `selftaught.toml` values apply unless the flag is
passed; `selftaught.config.load_settings` merges them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

Task = Annotated[str | None, typer.Option("--task", help="Built-in task name, a task directory, or openevolve:PATH. (default: parity_noise)")]
Model = Annotated[str | None, typer.Option("--model", help="offline[:SEED] (default, no network) or openai/<model>@<base_url> (the @<base_url> part is optional).")]
Tests = Annotated[int | None, typer.Option("--tests", help="Improver runs per meta-utility estimate. (default: 5)")]
ResponsesPerCall = Annotated[int | None, typer.Option("--responses-per-call", help="Max responses per LM call. (default: 6)")]
LmCalls = Annotated[int | None, typer.Option("--lm-calls", help="LM calls per improver run. (default: 4)")]
UtilityBudget = Annotated[int | None, typer.Option("--utility-budget", help="Utility calls per improver run. (default: 25)")]
Seed = Annotated[int | None, typer.Option("--seed", help="Run seed (offline model seed). (default: 0)")]
TestSeed = Annotated[int | None, typer.Option("--test-seed", help="Fix the secret test-split seed (default: drawn per run).")]
RunsDir = Annotated[Path | None, typer.Option("--runs-dir", help="Where runs are stored. (default: ./runs)")]
Sandbox = Annotated[str | None, typer.Option("--sandbox", help="strong (default) or weak (fewer layers, logged loudly).")]
Workers = Annotated[int | None, typer.Option("--workers", help="Sandbox workers (default: one per core).")]
Executor = Annotated[str | None, typer.Option("--executor", help="local (default) or ray.")]
RayAddress = Annotated[str | None, typer.Option("--ray-address", help="Ray cluster address. (default: auto)")]
ApiKeyEnv = Annotated[str | None, typer.Option("--api-key-env", help="Environment variable holding the API key. (default: OPENAI_API_KEY)")]
MaxTokens = Annotated[int | None, typer.Option("--max-tokens", help="Max tokens per response. (default: 1024)")]
MaxCost = Annotated[float | None, typer.Option("--max-cost", help="Stop new LM calls once this many USD are spent.")]
Concurrency = Annotated[int | None, typer.Option("--concurrency", help="LM requests in flight. (default: 8)")]
ImproverTimeout = Annotated[float | None, typer.Option("--improver-timeout", help="Wall-clock seconds for one improver run. (default: 300)")]
Protocol = Annotated[str | None, typer.Option("--protocol", help="strict (default) or paper: the original code's instances, public test seeds and scoring, comparable with the paper (docs/tasks.md).")]
Config = Annotated[Path | None, typer.Option("--config", help="Settings file. (default: ./selftaught.toml if present)")]
Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def overrides(**flags: Any) -> dict[str, Any]:
    """Flag values that were actually given (None means 'use the config file or default')."""
    return {key: value for key, value in flags.items() if value is not None}
