"""Genetic algorithm improver: a population evolved with LM mutation and crossover prompts.

Generation 0 is the initial solution plus one LM call of mutations of it. Every later generation spends
one LM call: half of its messages are crossover prompts (two parents picked by tournament selection,
"combine the strengths of both") and half are mutation prompts (one tournament parent, "improve it").
Survivors are the best `POPULATION` of parents and children together ((mu + lambda) elitism), so the
best solution never gets lost. Selection randomness is seeded from the initial solution, so a run is
reproducible given the LM's answers. Budgets are tracked locally.
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


POPULATION = 6
TOURNAMENT = 2


def mutation_message(solution, score, score_function):
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


def crossover_message(first, first_score, second, second_score, score_function):
    return f"""Here are two solutions to the same problem.

Solution A (score {first_score:.4f}):
```python
{first}
```

Solution B (score {second_score:.4f}):
```python
{second}
```

You will be evaluated based on this score function:
```python
{score_function}
```

Combine the strengths of both solutions into one new solution that scores higher than either.
First, say which ideas you take from each, then implement the result as a complete program in one ```python block."""


def improve_algorithm(initial_solution, utility, language_model):
    """Evolves a population of solutions; returns the fittest one found."""
    budgets = Budgets(utility, language_model)
    initial_score = budgets.score(initial_solution)
    if initial_score is None:
        return initial_solution
    rng = random.Random(zlib.crc32(initial_solution.encode("utf-8", "replace")))
    score_function = getattr(utility, "str", "")
    fitness = {initial_solution: initial_score}
    population = [initial_solution]

    def tournament():
        contestants = [rng.choice(population) for _ in range(TOURNAMENT)]
        return max(contestants, key=lambda code: fitness[code])

    while budgets.lm_left > 0 and budgets.utility_left > 0:
        n_messages = min(budgets.per_call, budgets.utility_left)
        messages = []
        for i in range(n_messages):
            first = tournament()
            second = tournament()
            if i % 2 == 0 or len(population) < 2 or first == second:
                messages.append(mutation_message(first, fitness[first], score_function))
            else:
                messages.append(
                    crossover_message(first, fitness[first], second, fitness[second], score_function)
                )
        for child in budgets.ask(messages, temperature=0.8):
            value = budgets.score(child)
            if value is None:
                break
            fitness[child] = value
            if child not in population:
                population.append(child)
        population = sorted(population, key=lambda code: fitness[code], reverse=True)[:POPULATION]
    return max(fitness, key=lambda code: fitness[code])
