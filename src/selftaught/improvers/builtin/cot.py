"""Chain-of-thought improver: one LM call with a step-by-step reasoning prompt (the paper's CoT baseline).

A human-designed prompt instead of search: the model is asked to reason explicitly about what the score
function rewards, where the current solution loses score and which change helps most, and only then to
write the program. It is single-shot (one LM call, no iteration on its own answers); its answers and the
initial solution are scored and the best is returned, so it spends at most one more utility call than it
has answers. Budgets are tracked locally.
"""

import math

from helpers import extract_code

EXPERTISE = "You are an expert computer science researcher and programmer, especially skilled at optimizing algorithms."


class Budgets:
    """Local accounting of LM calls and utility calls, plus a cache so no program is scored twice."""

    def __init__(self, utility, language_model):
        self.utility = utility
        self.language_model = language_model
        self.lm_left = int(getattr(language_model, "budget", 0) or 0)
        self.per_call = max(1, int(getattr(language_model, "max_responses_per_call", 1) or 1))
        self.utility_left = max(0, int(getattr(utility, "budget", 0) or 0))
        self.scores = {}

    def ask(self, messages, temperature):
        """One LM call; returns the candidate programs that compile ([] if the call is refused or fails)."""
        messages = list(messages)[: self.per_call]
        if self.lm_left <= 0 or not messages:
            return []
        self.lm_left -= 1
        try:
            responses = self.language_model.batch_prompt(EXPERTISE, messages, temperature=temperature)
        except Exception:
            return []
        candidates = []
        for code in extract_code([r for r in (responses or []) if isinstance(r, str)]):
            if code and code not in candidates and compiles(code):
                candidates.append(code)
        return candidates

    def score(self, code):
        """The utility of `code` (cached); None once the utility budget is spent."""
        if code in self.scores:
            return self.scores[code]
        if self.utility_left <= 0:
            return None
        self.utility_left -= 1
        try:
            value = float(self.utility(code))
        except Exception:
            value = 0.0
        if not math.isfinite(value):
            value = 0.0
        self.scores[code] = value
        return value


def compiles(code):
    try:
        compile(code, "<candidate>", "exec")
    except Exception:
        return False
    return True


def make_message(solution, score_function):
    return f"""Here is a solution to a problem:
```python
{solution}
```

It is evaluated with this score function:
```python
{score_function}
```

Let's think step by step.
1. What exactly does the score function reward, and what makes a solution fail or score low?
2. What does the current solution do, and where does it lose score?
3. Which change would raise the score the most, and why?
4. Check the plan against the score function's input and output format.
Then write the complete improved solution in one ```python block."""


def improve_algorithm(initial_solution, utility, language_model):
    """One chain-of-thought call; returns the best of its answers and the initial solution."""
    budgets = Budgets(utility, language_model)
    best_score = budgets.score(initial_solution)
    if best_score is None:
        return initial_solution
    best = initial_solution
    n_messages = min(budgets.per_call, budgets.utility_left)
    message = make_message(initial_solution, getattr(utility, "str", ""))
    for candidate in budgets.ask([message] * n_messages, temperature=0.7):
        value = budgets.score(candidate)
        if value is None:
            break
        if value > best_score:
            best, best_score = candidate, value
    return best
