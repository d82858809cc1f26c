"""Every command that reads a setting has its flag, built from the one defaults table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from selftaught.cli import options
from selftaught.defaults import KNOBS

from .conftest import cli

COMMANDS = {
    ("run",): options.RUN_KNOBS,
    ("improve",): options.IMPROVE_KNOBS,
    ("meta-eval",): options.META_EVAL_KNOBS,
    ("transfer",): options.TRANSFER_KNOBS,
    ("safety", "sandbox-flag"): options.SANDBOX_FLAG_KNOBS,
}


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS), ids=" ".join)
def test_help_lists_exactly_the_commands_knobs(tmp_path: Path, command: tuple[str, ...]) -> None:
    shown = cli(*command, "--help", cwd=tmp_path, env={"COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    flags = set(re.findall(r"(--[a-z][a-z-]+)", shown.stdout))
    for name, knob in KNOBS.items():
        if name in COMMANDS[command]:
            assert knob.flag in flags, (command, knob.flag)
        elif name not in ("improver",):  # `improve` has its own --improver (default seed)
            assert knob.flag not in flags, (command, knob.flag)


def test_the_settings_each_command_reads_have_flags() -> None:
    """The knobs `improve`, `meta-eval` and `transfer` read (budgets, timeouts, LM and sandbox
    settings) are on each; `run` has them all."""
    assert set(options.RUN_KNOBS) == set(KNOBS)
    for knobs in (options.IMPROVE_KNOBS, options.META_EVAL_KNOBS, options.TRANSFER_KNOBS):
        for name in ("improver_timeout", "workers", "temperature", "max_retries", "prices_file", "lm_calls"):
            assert name in knobs
    assert len(set(options.META_EVAL_KNOBS)) == len(options.META_EVAL_KNOBS)


@pytest.mark.slow
def test_flags_that_drifted_away_are_there(tmp_path: Path) -> None:
    for args in (
        ("meta-eval", "seed", "--improver-timeout", "5", "--task", "threesat"),
        ("transfer", "nowhere.py", "--workers", "2", "--tasks", "threesat"),
        ("improve", "threesat", "--temperature", "1.2"),
    ):
        done = cli(*args, cwd=tmp_path)
        assert done.returncode == 2 and "No such option" not in done.stderr, (args, done.stderr)
