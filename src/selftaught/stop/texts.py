"""The meta-utility description an improver is shown when it improves an improver (`utility.str`).

Like the downstream `utility.str`, it is a readable explanation, not the code that runs: the real
meta-utility is computed by the host (`selftaught.stop.meta_utility`). Two versions, side by side in
docs/tasks.md:

- `strict` (default): says what our meta-utility really does. The downstream utility is *not* pasted
  in: the improver being improved never needs the downstream scoring (it only passes `utility` on),
  and a second large code block would compete with the improver for the model's attention. So the
  text says the utility is hidden and names the task in one line, rather than promising a listing it
  does not contain.
- `paper`: the meta-utility as the original code shows it to the model (its `utility.str` is the
  original's meta-level `utility.py`, restated in our words): the imports of the seed algorithm and
  the task utility, the per-test fresh language model, the break once the task utility's budget is
  spent, and no listing of the task utility either.

Both state the budgets so the LM can plan within them, as the paper's text did.
"""

from __future__ import annotations

from selftaught.config import Settings


def meta_utility_text(
    task_name: str, task_description: str, settings: Settings, *, bounded: bool = True
) -> str:
    """Describe the meta-utility for an improver that is improving an improver on `task_name`
    (`bounded`: the task's utilities are in [0, 1]; else they are on the task's own scale)."""
    if settings.protocol == "paper":
        return paper_meta_utility_text(settings)
    scale = "in [0, 1]" if bounded else "on the task's own scale, unbounded (failures score 0)"
    return f'''from algorithm import algorithm_str  # the seed algorithm of task {task_name!r}
from task_utility import utility  # the downstream utility: hidden from you, scored in a sandbox
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
# utility(algorithm_str) scores an algorithm {scale} (higher is better) on held-out instances;
# utility.str (what improve_algorithm shows its language model) describes that scoring.'''


def paper_meta_utility_text(settings: Settings) -> str:
    """The original code's meta-level `utility.str`, restated: same structure, facts and constants.

    The constants are the run's (the paper's by default: 5 tests, 4 calls of 6 responses, 25 calls),
    so the text never states budgets the run does not enforce.
    """
    return f'''from algorithm import algorithm_str
from task_utility import utility
from language_model import LanguageModel

def meta_utility(improve_str: str):
    """
    Scores the improvement algorithm in improve_str by how well the algorithm it makes out of
    algorithm_str does on a downstream utility function. This meta-utility function can only be
    called {settings.utility_budget} times.
    """
    if meta_utility.uses > meta_utility.budget:
        return 0
    meta_utility.increment_uses()
    n_tests = {settings.tests}
    expected_utility = 0
    for _ in range(n_tests):
        if utility.uses >= utility.budget:
            break
        try:
            exec(improve_str, globals())  # defines improve_algorithm
        except:
            continue
        # Each test: at most {settings.lm_calls} language-model calls, at most {settings.responses_per_call} samples per call
        language_model = LanguageModel(budget={settings.lm_calls}, max_responses_per_call={settings.responses_per_call})
        improved_algorithm_str = improve_algorithm(algorithm_str, utility, language_model)
        expected_utility += utility(improved_algorithm_str) / n_tests

    return expected_utility'''
