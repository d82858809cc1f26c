"""The texts the model is shown under each protocol."""

from __future__ import annotations

import ast

from selftaught.config import Settings
from selftaught.stop.texts import meta_utility_text
from selftaught.tasks import PAPER_NAMES, builtin_task


def test_strict_meta_text_never_promises_a_listing_it_does_not_contain() -> None:
    text = meta_utility_text("maxcut", "Weighted Max-Cut", Settings())
    assert "shown below" not in text and "hidden" in text
    assert "def meta_utility(improve_str: str)" in text
    ast.parse(text)  # a readable Python function, as the paper's texts are


def test_paper_meta_text_has_the_original_structure_and_the_runs_budgets() -> None:
    settings = Settings(protocol="paper", tests=5, lm_calls=4, responses_per_call=6, utility_budget=25)
    text = meta_utility_text("parity_noise", "LPN", settings)
    ast.parse(text)
    for fact in (
        "from algorithm import algorithm_str",
        "from task_utility import utility",
        "called 25 times",
        "n_tests = 5",
        "if utility.uses >= utility.budget:",
        "LanguageModel(budget=4, max_responses_per_call=6)",
        "meta_utility.increment_uses()",
    ):
        assert fact in text, fact
    assert "shown below" not in text
    assert "n_tests = 3" in meta_utility_text("parity_noise", "LPN", settings.model_copy(update={"tests": 3}))


def test_paper_task_texts_state_what_the_original_showed_and_parse() -> None:
    """The original's visible texts differ from its hidden scoring (3 LPN tests of 100 ms, 3-SAT with 50
    variables and a 10 ms limit, Max-Cut on 300 nodes): the paper protocol shows those facts."""
    expected = {
        "parity_noise": ("n_tests = 3", "0.1"),
        "parity_noiseless": ("n_tests = 3", "80"),
        "three_sat": ("10 milliseconds", "n_tests, n = 100, 50"),
        "maxcut": ("100 milliseconds", "300"),
        "modified_quadratic_assignment": ("500 milliseconds", "higher is better"),
        "str_grid_dist": ("range(10)", "max_time=0.1"),
    }
    for name in PAPER_NAMES:
        task = builtin_task(name, "paper")
        text = task.utility_text(25)
        ast.parse(text)
        assert not text.startswith("# Budget"), name  # shown as the original showed it
        for fact in expected[name]:
            assert fact in text, (name, fact)
        assert builtin_task(name).utility_text(25).startswith("# Budget")
