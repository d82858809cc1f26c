"""Greedy iterative improver: the STOP paper's strongest simple baseline (64.2% on LPN with GPT-4).

Each round asks the language model to improve the *current best* solution (showing its score), scores
the answers and keeps the best one only if it beats the incumbent. Unlike the seed improver it keeps
building on what worked, and it never returns something worse than the initial solution.
Budgets are tracked locally so the improver never asks for more than it was given: one LM call per
round (at most `max_responses_per_call` messages) and one utility call per distinct candidate.
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


def make_message(solution, score, score_function):
    return f"""Improve the following solution (its current score is {score:.4f}):
```python
{solution}
```

You will be evaluated based on this score function:
```python
{score_function}
```

You must return an improved solution that scores higher. Build on what already works.
First, propose an idea, then implement it as a complete program in one ```python block."""


def improve_algorithm(initial_solution, utility, language_model):
    """Repeatedly improves the best solution so far; returns the best solution found."""
    budgets = Budgets(utility, language_model)
    best = initial_solution
    best_score = budgets.score(initial_solution)
    if best_score is None:
        return initial_solution
    score_function = getattr(utility, "str", "")
    while budgets.lm_left > 0 and budgets.utility_left > 0:
        n_messages = min(budgets.per_call, budgets.utility_left)
        message = make_message(best, best_score, score_function)
        for candidate in budgets.ask([message] * n_messages, temperature=0.7):
            value = budgets.score(candidate)
            if value is None:
                break
            if value > best_score:
                best, best_score = candidate, value
    return best
