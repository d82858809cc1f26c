"""Every built-in improver, end to end: sandboxed, on the offline model, within its budgets.

The counts come from the host (`selftaught.improve` reads them off the capability objects the sandboxed
improver talks to), so an improver cannot misreport them.
"""

from __future__ import annotations

import pytest

import selftaught
from selftaught.improvers import BUILTIN_IMPROVERS
from selftaught.tasks import load_task

pytestmark = pytest.mark.slow  # end to end: whole runs on the offline model in the real sandbox

# Small budgets where the utility budget binds before the LM budget does (1 + 3 + 3 = 7 < 1 + 3 * 3).
BUDGETS = {"lm_calls": 3, "responses_per_call": 3, "utility_budget": 7}
COMMON = {"model": "offline", "test_seed": 777, "improver_timeout": 60.0, **BUDGETS}
ITERATIVE = ("greedy", "beam", "genetic", "annealing", "bandit", "islands")
# A seed long enough for the offline model to give the iterative improvers distinct mutants to spend
# their budgets on (grid distance's two-line seed is too short), scored in a fraction of a second: one
# validation instance (modified_quadratic_assignment's ten took seconds per utility call).
TASK = "circle_packing"


@pytest.mark.parametrize("name", BUILTIN_IMPROVERS)
def test_each_improver_runs_within_its_budgets(name: str) -> None:
    result = selftaught.improve(TASK, improver=name, **COMMON)
    assert result.error is None, result.error
    assert result.program.strip()
    assert 1 <= result.lm_calls <= BUDGETS["lm_calls"]
    assert 1 <= result.utility_calls <= BUDGETS["utility_budget"]
    assert not [kind for kind, _ in result.events if "budget-exceeded" in kind], result.events
    if name in ("seed", "cot"):
        assert result.lm_calls == 1
    if name in ITERATIVE:
        # They keep searching while budget remains, and never return worse than the initial program
        # (the host re-scores on the same validation instances).
        assert result.lm_calls >= 2
        assert result.utility_calls >= 5
    if name != "seed":
        assert result.utility_after >= result.utility_before


@pytest.mark.parametrize("name", ("greedy", "genetic", "cot"))
def test_no_utility_left_means_no_lm_calls_and_the_initial_program(name: str) -> None:
    # One utility call: the initial program takes it, so there is nothing to score answers with.
    result = selftaught.improve("str_grid_dist", improver=name, **{**COMMON, "utility_budget": 1})
    assert result.error is None, result.error
    assert result.lm_calls == 0 and result.utility_calls == 1
    assert result.program == load_task("str_grid_dist").seed_algorithm
