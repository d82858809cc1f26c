"""The meta-utility description an improver is shown when it improves an improver (`utility.str`).

Like the downstream `utility.str`, it is a readable explanation, not the code that runs: the real
meta-utility is computed by the host (`selftaught.stop.meta_utility`). It states the budgets so the LM can
plan within them, as the paper's text did. It names the downstream task in one line rather than pasting
its whole utility text: the improver being improved never needs the downstream scoring, and a second
large code block in the prompt would compete with the improver for the model's attention.
"""

from __future__ import annotations

from selftaught.config import Settings


def meta_utility_text(task_name: str, task_description: str, settings: Settings) -> str:
    """Describe the meta-utility for an improver that is improving an improver on `task_name`."""
    return f'''from algorithm import algorithm_str  # the seed algorithm of task {task_name!r}
from task_utility import utility  # the downstream utility, shown below
from language_model import LanguageModel

def meta_utility(improve_str: str) -> float:
    """
    Evaluates the improver in improve_str: how well the algorithm it returns scores on the task.
    The improver source must define improve_algorithm(initial_solution, utility, language_model) -> str.
    This meta-utility can be called at most {settings.utility_budget} times (meta_utility.budget).
    """
    if meta_utility.uses > meta_utility.budget:
        return 0.0
    n_tests = {settings.tests}
    expected_utility = 0.0
    for _ in range(n_tests):
        try:
            exec(improve_str, globals())  # defines improve_algorithm
        except Exception:
            continue
        # A fresh language model for each test: at most {settings.lm_calls} calls
        # (language_model.budget), each returning at most {settings.responses_per_call} responses
        # (language_model.max_responses_per_call). Going over the budget raises an exception.
        language_model = LanguageModel(budget={settings.lm_calls})
        utility.reset(budget={settings.utility_budget})
        improved_algorithm_str = improve_algorithm(algorithm_str, utility, language_model)
        expected_utility += utility(improved_algorithm_str) / n_tests
    return expected_utility
# Downstream task {task_name!r}: {task_description}
# utility(algorithm_str) scores an algorithm in [0, 1] (higher is better) on held-out instances.'''
