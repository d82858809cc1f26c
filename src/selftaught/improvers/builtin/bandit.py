"""UCB bandit improver: learns which prompt style and which sampling temperature pay off on this task.

Arms are prompt styles (`STYLES`: the seed's "novel idea", a small targeted refinement, a rewrite with a
different algorithm, a weakness analysis) and, separately, LM temperatures (`TEMPERATURES`). Each LM
call picks its temperature by UCB1 over the temperature arms, then shares its messages out between the
style arms by UCB1 with virtual pulls (so one call can try several styles). Every message improves the
current best solution; its reward is 1 if the candidate beats that parent, 0.5 if it ties, 0 otherwise
(rank-like rewards keep UCB's exploration constant meaningful whatever the utility's scale). Untried
arms go first. Returns the best solution seen (the initial one included). Budgets are tracked locally.
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


EXPLORATION = 1.0
TEMPERATURES = (0.4, 0.7, 1.0)
STYLES = {
    "novel": "Be as creative as you can under the constraints. Your primary improvement must be novel and non-trivial. First, propose an idea, then implement it.",
    "refine": "Make a small, targeted change that raises the score: tune constants, handle edge cases, remove wasted work. Keep everything that already works. First say what you change, then implement it.",
    "rewrite": "Replace the approach with a fundamentally different algorithm that suits the score function better. First name the algorithm and why it should score higher, then implement it.",
    "analyse": "First list the weaknesses of this solution with respect to the score function, then fix the most important one.",
}


def make_message(style, solution, score, score_function):
    return f"""Improve the following solution (its current score is {score:.4f}):
```python
{solution}
```

You will be evaluated based on this score function:
```python
{score_function}
```

{STYLES[style]}
Return the complete improved program in one ```python block."""


def ucb(stats, arm, total):
    pulls, reward = stats[arm]
    if pulls == 0:
        return float("inf")
    return reward / pulls + EXPLORATION * math.sqrt(2.0 * math.log(max(total, 1)) / pulls)


def improve_algorithm(initial_solution, utility, language_model):
    """Greedy improvement with prompts and temperatures chosen by UCB1; returns the best solution."""
    budgets = Budgets(utility, language_model)
    best_score = budgets.score(initial_solution)
    if best_score is None:
        return initial_solution
    best = initial_solution
    score_function = getattr(utility, "str", "")
    style_stats = {style: [0, 0.0] for style in STYLES}
    temperature_stats = {temperature: [0, 0.0] for temperature in TEMPERATURES}
    while budgets.lm_left > 0 and budgets.utility_left > 0:
        temperature_total = sum(pulls for pulls, _ in temperature_stats.values())
        temperature = max(TEMPERATURES, key=lambda t: ucb(temperature_stats, t, temperature_total))
        n_messages = min(budgets.per_call, budgets.utility_left)
        virtual = {style: list(stats) for style, stats in style_stats.items()}
        styles = []
        for _ in range(n_messages):
            total = sum(pulls for pulls, _ in virtual.values())
            style = max(STYLES, key=lambda s: ucb(virtual, s, total))
            styles.append(style)
            # A virtual pull at the arm's mean reward: spreads one call's messages over the arms.
            pulls, reward = virtual[style]
            virtual[style] = [pulls + 1, reward + (reward / pulls if pulls else 0.5)]
        parent, parent_score = best, best_score
        messages = [make_message(style, parent, parent_score, score_function) for style in styles]
        # One LM call for all messages; each answer keeps the index of its message (and so its style).
        responses = ask_with_styles(budgets, messages, temperature)
        for index, candidate in responses:
            value = budgets.score(candidate)
            if value is None:
                break
            reward = 1.0 if value > parent_score else 0.5 if value == parent_score else 0.0
            for stats, arm in ((style_stats, styles[index]), (temperature_stats, temperature)):
                stats[arm][0] += 1
                stats[arm][1] += reward
            if value > best_score:
                best, best_score = candidate, value
    return best


def ask_with_styles(budgets, messages, temperature):
    """Like `Budgets.ask`, but keeps the index of the message each candidate answered."""
    messages = list(messages)[: budgets.per_call]
    if budgets.lm_left <= 0 or not messages:
        return []
    budgets.lm_left -= 1
    try:
        responses = budgets.language_model.batch_prompt(EXPERTISE, messages, temperature=temperature)
    except Exception:
        return []
    seen = set()
    answered = []
    for index, response in enumerate(list(responses or [])[: len(messages)]):
        if not isinstance(response, str):
            continue
        code = extract_code(response)
        if code and code not in seen and compiles(code):
            seen.add(code)
            answered.append((index, code))
    return answered
