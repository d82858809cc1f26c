"""Simulated annealing improver: a random walk over candidate programs that accepts worse moves early.

Each round spends one LM call proposing rewrites of the *current* solution (not necessarily the best).
Candidates are then considered one by one with the Metropolis rule: a better one is always accepted, a
worse one with probability exp((new - current) / T). The temperature T starts at `START_FRACTION` of the
initial score's magnitude (at least `MIN_SCALE`, so an all-zero start still explores) and is multiplied
by `COOLING` after every candidate; the LM's sampling temperature cools from 1.0 to 0.5 alongside. The
best solution ever seen is returned (the initial one included). Acceptance randomness is seeded from
the initial solution. Budgets are tracked locally.
"""

import math
import random
import zlib

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


START_FRACTION = 0.1
MIN_SCALE = 0.1
COOLING = 0.85


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
    """Anneals over LM rewrites; returns the best solution seen."""
    budgets = Budgets(utility, language_model)
    current_score = budgets.score(initial_solution)
    if current_score is None:
        return initial_solution
    rng = random.Random(zlib.crc32(initial_solution.encode("utf-8", "replace")))
    score_function = getattr(utility, "str", "")
    current = best = initial_solution
    best_score = current_score
    temperature = START_FRACTION * max(abs(current_score), MIN_SCALE)
    rounds = max(1, budgets.lm_left)
    for round_index in range(rounds):
        if budgets.lm_left <= 0 or budgets.utility_left <= 0:
            break
        lm_temperature = 1.0 - 0.5 * round_index / max(1, rounds - 1)
        n_messages = min(budgets.per_call, budgets.utility_left)
        message = make_message(current, current_score, score_function)
        for candidate in budgets.ask([message] * n_messages, temperature=lm_temperature):
            value = budgets.score(candidate)
            if value is None:
                break
            delta = value - current_score
            if delta >= 0 or rng.random() < math.exp(delta / max(temperature, 1e-12)):
                current, current_score = candidate, value
            if value > best_score:
                best, best_score = candidate, value
            temperature *= COOLING
    return best
