"""Islands improver: a population search in the style of FunSearch and OpenEvolve, small enough to rewrite.

The population is split into islands that evolve apart, so one lucky lineage does not take over every
prompt. Each LM call sends one message per island slot: two parents drawn from that island (better
scores more likely), shown in increasing score order, with the request to write the next, better
version. Each answer is scored and goes back to the island that asked for it. Every `RESET_EVERY`
generations the weaker half of the islands is wiped and restarted from the best program found so far.
Beside the islands, a MAP-Elites-style archive keeps the best program of each (length, score) cell;
it supplies a third, differently shaped "inspiration" program to prompts, and the final answer is the
best program in it (never worse than the initial solution).

All of it stays within the same budgets as the other improvers: at most `language_model.budget` LM
calls of at most `max_responses_per_call` messages, and at most `utility.budget` utility calls
(counted locally, a program is never scored twice). With the paper's budgets (4 calls x 6 responses,
25 utility calls) that is the initial score plus four generations of six children. Randomness is
seeded from the initial solution, so a run is reproducible given the LM's answers. Self-contained
(standard library and `helpers` only) so that the self-improvement loop can rewrite it.
"""

import math
import random
import zlib

from helpers import extract_code

EXPERTISE = "You are an expert computer science researcher and programmer, especially skilled at optimizing algorithms."
N_ISLANDS = 3
ISLAND_SIZE = 6  # programs kept per island (best first)
RESET_EVERY = 2  # generations between resets of the weaker half of the islands
LENGTH_BIN = 400  # characters per archive cell along the length axis
SCORE_BINS = 20  # archive cells along the score axis, over [0, 1]
TEMPERATURE = 0.8


class Budgets:
    """Local accounting of LM calls and utility calls, plus a cache so no program is scored twice."""

    def __init__(self, utility, language_model):
        self.utility = utility
        self.language_model = language_model
        self.lm_left = int(getattr(language_model, "budget", 0) or 0)
        self.per_call = max(1, int(getattr(language_model, "max_responses_per_call", 1) or 1))
        self.utility_left = max(0, int(getattr(utility, "budget", 0) or 0))
        self.scores = {}

    def ask(self, messages):
        """One LM call; the program in each answer, in message order ("" where there is none)."""
        messages = list(messages)[: self.per_call]
        if self.lm_left <= 0 or not messages:
            return []
        self.lm_left -= 1
        try:
            responses = self.language_model.batch_prompt(EXPERTISE, messages, temperature=TEMPERATURE)
        except Exception:
            return []
        answers = [r if isinstance(r, str) else "" for r in (responses or [])][: len(messages)]
        return [code if code and compiles(code) else "" for code in extract_code(answers)]

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


class Island:
    """Scored programs that evolve together; `members` holds (score, code), best first."""

    def __init__(self, code, score):
        self.members = [(score, code)]

    def add(self, code, score):
        if any(known == code for _, known in self.members):
            return
        self.members.append((score, code))
        self.members.sort(key=lambda item: (-item[0], len(item[1])))
        del self.members[ISLAND_SIZE:]

    @property
    def best(self):
        return self.members[0]

    def parents(self, rng):
        """Two members (one if the island has one), rank-weighted towards the better, worst first."""
        ranks = list(range(len(self.members)))
        weights = [1.0 / (rank + 1) for rank in ranks]
        first = rng.choices(ranks, weights)[0]
        others = [rank for rank in ranks if rank != first]
        if not others:
            return [self.members[first]]
        second = rng.choices(others, [weights[rank] for rank in others])[0]
        return sorted([self.members[first], self.members[second]], key=lambda item: item[0])


class Archive:
    """MAP-Elites cells keyed by (length bin, score bin): the best program of each shape and level."""

    def __init__(self):
        self.cells = {}

    def add(self, code, score):
        key = (len(code) // LENGTH_BIN, min(SCORE_BINS - 1, max(0, int(score * SCORE_BINS))))
        held = self.cells.get(key)
        if held is None or (score, -len(code)) > (held[0], -len(held[1])):
            self.cells[key] = (score, code)

    def best(self):
        return max(self.cells.values(), key=lambda item: (item[0], -len(item[1])))

    def inspiration(self, rng, avoid):
        """An elite whose code differs from every parent shown (None if the archive has no other)."""
        others = [item for item in self.cells.values() if item[1] not in avoid]
        return rng.choice(others) if others else None


def make_message(parents, inspiration, score_function):
    shown = []
    for version, (score, code) in enumerate(parents):
        shown.append(f"Version {version} (score {score:.4f}):\n```python\n{code}\n```")
    extra = ""
    if inspiration is not None:
        extra = (
            f"\nA differently shaped program from elsewhere in the search (score {inspiration[0]:.4f}), "
            f"for ideas only:\n```\n{inspiration[1]}\n```\n"
        )
    return (
        "Here are versions of a solution, in increasing order of score:\n\n"
        + "\n\n".join(shown)
        + f"\n{extra}\nThey are evaluated with this score function:\n```\n{score_function}\n```\n\n"
        + f"Write version {len(parents)}: a complete program, better than every version above. Keep what "
        "makes the best version work and change one idea. Return it in one ```python block."
    )


def improve_algorithm(initial_solution, utility, language_model):
    """Evolves islands of programs from the initial solution; returns the best program found."""
    budgets = Budgets(utility, language_model)
    initial_score = budgets.score(initial_solution)
    if initial_score is None:
        return initial_solution
    rng = random.Random(zlib.crc32(initial_solution.encode("utf-8")))
    islands = [Island(initial_solution, initial_score) for _ in range(N_ISLANDS)]
    archive = Archive()
    archive.add(initial_solution, initial_score)
    score_function = getattr(utility, "str", "")
    generation = 0
    while budgets.lm_left > 0 and budgets.utility_left > 0:
        generation += 1
        slots = [i % N_ISLANDS for i in range(min(budgets.per_call, budgets.utility_left))]
        messages = []
        for island_index in slots:
            parents = islands[island_index].parents(rng)
            inspiration = archive.inspiration(rng, {code for _, code in parents})
            messages.append(make_message(parents, inspiration, score_function))
        for island_index, code in zip(slots, budgets.ask(messages)):
            if not code:
                continue
            value = budgets.score(code)
            if value is None:
                break
            islands[island_index].add(code, value)
            archive.add(code, value)
        if generation % RESET_EVERY == 0:
            reset_weakest(islands, archive)
    best_score, best = archive.best()
    return best if best_score > initial_score else initial_solution


def reset_weakest(islands, archive):
    """Restart the weaker half of the islands from the best program found so far."""
    best_score, best = archive.best()
    order = sorted(range(len(islands)), key=lambda i: islands[i].best[0])
    for index in order[: len(islands) // 2]:
        islands[index] = Island(best, best_score)
