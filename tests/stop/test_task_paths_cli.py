"""A run on the user's own task directory resumes from any working directory: the task is stored as
an absolute path, and an old run's relative path is resolved where that run started."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from selftaught.tasks.registry import absolute_task, stored_task

from .conftest import cli

SLOW = pytest.mark.slow  # the CLI in a subprocess, runs in the real sandbox

TINY = (
    "--tests",
    "1",
    "--estimate-tests",
    "1",
    "--lm-calls",
    "1",
    "--responses-per-call",
    "2",
    "--utility-budget",
    "2",
)


def _stored_config(run_dir: Path) -> dict:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        return json.loads(db.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])


def _set_meta(run_dir: Path, key: str, value: object) -> None:
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))


@SLOW
def test_an_own_task_run_resumes_from_the_parent_directory(tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    made = cli("new-task", "mytask", cwd=work)
    assert made.returncode == 0, made.stderr
    started = cli("run", "--task", "./mytask", "--iterations", "0", *TINY, cwd=work)
    assert started.returncode == 0, started.stderr[-2000:]
    [run_dir] = (work / "runs").iterdir()
    assert _stored_config(run_dir)["task"] == str(work / "mytask")
    resumed = cli(
        "run", "--resume", run_dir.name, "--runs-dir", "project/runs", "--iterations", "1", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]


@SLOW
def test_an_old_runs_relative_task_resolves_where_the_run_started(tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    assert cli("new-task", "mytask", cwd=work).returncode == 0
    started = cli("run", "--task", "./mytask", "--iterations", "0", *TINY, cwd=work)
    assert started.returncode == 0, started.stderr[-2000:]
    [run_dir] = (work / "runs").iterdir()
    config = _stored_config(run_dir)
    _set_meta(run_dir, "config", {**config, "task": "./mytask"})  # as runs stored it before
    _set_meta(run_dir, "workdir", None)  # and before the working directory was stored
    resumed = cli(
        "run", "--resume", run_dir.name, "--runs-dir", "project/runs", "--iterations", "1", cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]


def test_task_specs_are_made_absolute_and_built_in_names_are_left_alone(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    assert absolute_task("three_sat", tmp_path) == "three_sat"
    assert absolute_task("./mine", tmp_path) == str(tmp_path / "mine")
    assert absolute_task("openevolve:mine", tmp_path) == f"openevolve:{tmp_path / 'mine'}"
    assert absolute_task("threesat", tmp_path) == "threesat", "a typo stays a typo (load_task names it)"
    assert stored_task("./mine", [tmp_path / "nowhere", tmp_path]) == str(tmp_path / "mine")
    assert stored_task("openevolve:mine", [tmp_path]) == f"openevolve:{tmp_path / 'mine'}"
    assert stored_task("./gone", [tmp_path]) == "./gone"
