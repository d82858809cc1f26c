"""Beam search improver: keeps the `BEAM_WIDTH` best solutions and expands each of them every round.

Greedy search follows a single line of improvements and gets stuck when the LM's answers to the current
best are all worse; a beam keeps a runner-up alive so a different idea can overtake later. Each round
spends one LM call whose messages are shared out between the beam members (best first), scores every
new candidate once, and keeps the top `BEAM_WIDTH` of old and new (the initial solution is a member of
the first beam, so the result is never worse than it). Budgets are tracked locally.
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


BEAM_WIDTH = 2


def make_message(solution, score, score_function):
    return f"""Improve the following solution (its current score is {score:.4f}):
```python
{solution}
```

You will be evaluated based on this score function:
```python
{score_function}
```

You must return an improved solution. Be as creative as you can under the constraints.
First, propose an idea, then implement it as a complete program in one ```python block."""


def improve_algorithm(initial_solution, utility, language_model):
    """Beam search over LM rewrites; returns the best solution found."""
    budgets = Budgets(utility, language_model)
    initial_score = budgets.score(initial_solution)
    if initial_score is None:
        return initial_solution
    score_function = getattr(utility, "str", "")
    scored = {initial_solution: initial_score}
    beam = [initial_solution]
    while budgets.lm_left > 0 and budgets.utility_left > 0:
        n_messages = min(budgets.per_call, budgets.utility_left)
        messages = []
        for i in range(n_messages):
            parent = beam[i % len(beam)]
            messages.append(make_message(parent, scored[parent], score_function))
        for candidate in budgets.ask(messages, temperature=0.7):
            value = budgets.score(candidate)
            if value is None:
                break
            scored[candidate] = value
        # Stable sort: among equal scores the older solution stays ahead.
        ranking = sorted(scored, key=lambda code: scored[code], reverse=True)
        beam = ranking[:BEAM_WIDTH]
    return max(scored, key=lambda code: scored[code])
