"""Shared fixtures for STOP tests: small budgets so a full run takes seconds on the offline model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.config import Settings

SMALL = {
    "task": "str_grid_dist",
    "tests": 2,
    "estimate_tests": 2,
    "lm_calls": 2,
    "responses_per_call": 3,
    "utility_budget": 4,
    "test_seed": 777,
    "improver_timeout": 60.0,
    "meta_improver_timeout": 300.0,
}


@pytest.fixture
def small_settings(tmp_path: Path) -> Settings:
    return Settings(**SMALL, runs_dir=tmp_path / "runs")


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (as a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def cli_json(*args: str, cwd: Path) -> dict:
    done = cli(*args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)
