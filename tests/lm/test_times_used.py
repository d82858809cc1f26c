"""`language_model.times_used` is live, like `utility.uses`: on the host and through the sandbox proxy."""

from __future__ import annotations

from pathlib import Path

import pytest

import selftaught
from selftaught.config import Settings
from selftaught.lm import open_model

COUNTING = """
def improve_algorithm(initial_solution, utility, language_model):
    before = language_model.times_used
    language_model.batch_prompt("expert", ["improve this"], temperature=0.7)
    middle = language_model.times_used
    language_model.prompt("expert", "and this")
    return initial_solution + "\\n# times_used %d -> %d -> %d of %d" % (
        before, middle, language_model.times_used, language_model.budget)
"""


def test_times_used_counts_calls_on_the_host() -> None:
    with open_model("offline:1") as client:
        lm = client.language_model(budget=3)
        assert lm.times_used == 0
        lm.prompt("sys", "hello")
        lm.batch_prompt("sys", ["a", "b"])
        assert lm.times_used == 2 == lm.calls_used


@pytest.mark.slow  # a real sandbox job
def test_times_used_is_read_live_inside_the_sandbox(tmp_path: Path) -> None:
    improver = tmp_path / "counting.py"
    improver.write_text(COUNTING)
    settings = Settings(
        task="str_grid_dist", lm_calls=3, responses_per_call=2, utility_budget=2, runs_dir=tmp_path / "runs"
    )
    result = selftaught.improve("str_grid_dist", improver=str(improver), settings=settings)
    assert result.error is None, result.error
    assert result.program.endswith("# times_used 0 -> 1 -> 2 of 3")
