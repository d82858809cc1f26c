"""Strategy rules on hand-written improvers of each kind, and negative cases that must not fire."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.improvers import load_improver
from selftaught.report.strategies import STRATEGIES, detect_strategies, strategy_names
from selftaught.report.strategy_syntax import words

HEADER = "from helpers import extract_code\n\n"

BEAM_SORTED = (
    HEADER
    + """
def improve_algorithm(initial_solution, utility, language_model):
    pool = {initial_solution: utility(initial_solution)}
    keep = [initial_solution]
    for _ in range(language_model.budget):
        answers = language_model.batch_prompt("expert", [f"Improve {c}" for c in keep], temperature=0.7)
        for code in extract_code(answers):
            pool[code] = utility(code)
        keep = sorted(pool, key=pool.get, reverse=True)[:3]
    return keep[0]
"""
)

BEAM_HEAPQ = (
    HEADER
    + """import heapq


def improve_algorithm(initial_solution, utility, language_model):
    scored = [(utility(initial_solution), initial_solution)]
    while language_model.budget > 0:
        for code in extract_code(language_model.prompt("expert", scored[0][1], n_responses=4)):
            scored.append((utility(code), code))
        scored = heapq.nlargest(2, scored)
    return scored[0][1]
"""
)

GENETIC = (
    HEADER
    + """import random


def crossover(a, b):
    lines_a, lines_b = a.splitlines(), b.splitlines()
    cut = random.randint(0, min(len(lines_a), len(lines_b)))
    return "\\n".join(lines_a[:cut] + lines_b[cut:])


def improve_algorithm(initial_solution, utility, language_model):
    population = [initial_solution]
    for generation in range(3):
        mutants = extract_code(language_model.batch_prompt("expert", population, temperature=0.7))
        population = population + mutants + [crossover(random.choice(population), random.choice(population))]
        population = sorted(population, key=utility, reverse=True)[:4]
    return population[0]
"""
)

ANNEALING_METROPOLIS = (
    HEADER
    + """import math
import random


def improve_algorithm(initial_solution, utility, language_model):
    current, current_score = initial_solution, utility(initial_solution)
    t = 1.0
    for _ in range(4):
        [proposal] = extract_code(language_model.prompt("expert", current)) or [current]
        score = utility(proposal)
        if score > current_score or random.random() < math.exp((score - current_score) / t):
            current, current_score = proposal, score
        t = t * 0.5
    return current
"""
)

BANDIT_UCB = (
    HEADER
    + """import math

PROMPTS = ["Make it faster.", "Make it more accurate."]


def improve_algorithm(initial_solution, utility, language_model):
    pulls = [0, 0]
    rewards = [0.0, 0.0]
    best, best_score = initial_solution, utility(initial_solution)
    for step in range(1, 5):
        index = max(range(2), key=lambda i: float("inf") if pulls[i] == 0 else
                    rewards[i] / pulls[i] + math.sqrt(2 * math.log(step) / pulls[i]))
        [code] = extract_code(language_model.prompt("expert", PROMPTS[index] + best)) or [best]
        score = utility(code)
        pulls[index] += 1
        rewards[index] += score
    return best
"""
)

EPSILON_GREEDY = (
    HEADER
    + """import random

EPSILON = 0.2


def improve_algorithm(initial_solution, utility, language_model):
    options = ["short prompt", "long prompt"]
    value = {option: 0.0 for option in options}
    for _ in range(3):
        choice = random.choice(options) if random.random() < EPSILON else max(options, key=value.get)
        value[choice] += 1
    return initial_solution
"""
)

TEMPERATURE_LOOP = (
    HEADER
    + """
def improve_algorithm(initial_solution, utility, language_model):
    candidates = [initial_solution]
    for round_index in range(3):
        responses = language_model.batch_prompt("expert", [initial_solution] * 2,
                                                temperature=0.3 + 0.3 * round_index)
        candidates += extract_code(responses)
    return max(candidates, key=utility)
"""
)

TEMPERATURE_SET = (
    HEADER
    + """
TEMPS = [0.2, 0.8, 1.2]


def improve_algorithm(initial_solution, utility, language_model):
    candidates = [initial_solution]
    for temp in TEMPS:
        candidates += extract_code(language_model.batch_prompt("expert", [initial_solution], temp))
    return max(candidates, key=utility)
"""
)

CACHING_MEMO = (
    HEADER
    + """
def improve_algorithm(initial_solution, utility, language_model):
    memo = {}

    def score(code):
        if code in memo:
            return memo[code]
        memo[code] = utility(code)
        return memo[code]

    candidates = extract_code(language_model.batch_prompt("expert", [initial_solution] * 4, temperature=0.7))
    return max([initial_solution, *candidates], key=score)
"""
)

CACHING_LRU = (
    HEADER
    + """import functools


def improve_algorithm(initial_solution, utility, language_model):
    @functools.lru_cache(maxsize=None)
    def score(code):
        return utility(code)

    candidates = extract_code(language_model.batch_prompt("expert", [initial_solution] * 4, temperature=0.7))
    return max([initial_solution, *candidates], key=score)
"""
)

PARALLEL_THREADS = (
    HEADER
    + """from concurrent.futures import ThreadPoolExecutor


def improve_algorithm(initial_solution, utility, language_model):
    candidates = extract_code(language_model.batch_prompt("expert", [initial_solution] * 4, temperature=0.7))
    with ThreadPoolExecutor(max_workers=4) as pool:
        scores = list(pool.map(utility, candidates))
    return max(zip(scores, candidates))[1] if candidates else initial_solution
"""
)

DECOMPOSITION_AST = (
    HEADER
    + """import ast


def improve_algorithm(initial_solution, utility, language_model):
    tree = ast.parse(initial_solution)
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    improved = initial_solution
    for function in functions:
        original = ast.get_source_segment(initial_solution, function)
        [better] = extract_code(language_model.prompt("expert", f"Improve only this function: {original}")) or [original]
        candidate = improved.replace(original, better)
        if utility(candidate) >= utility(improved):
            improved = candidate
    return improved
"""
)

DECOMPOSITION_SPLIT = (
    HEADER
    + """
def improve_algorithm(initial_solution, utility, language_model):
    pieces = initial_solution.split("\\n\\n")
    rebuilt = []
    for piece in pieces:
        answer = extract_code(language_model.prompt("expert", "Improve this part: " + piece)) or [piece]
        rebuilt.append(answer[0])
    candidate = "\\n\\n".join(rebuilt)
    return candidate if utility(candidate) > utility(initial_solution) else initial_solution
"""
)

LOCAL_SEARCH = (
    HEADER
    + """
def ask(language_model, code):
    return extract_code(language_model.prompt("expert", "Improve slightly: " + code, n_responses=2))


def improve_algorithm(initial_solution, utility, language_model):
    incumbent, incumbent_score = initial_solution, utility(initial_solution)
    for _ in range(language_model.budget):
        for candidate in ask(language_model, incumbent):
            value = utility(candidate)
            if value > incumbent_score:
                incumbent, incumbent_score = candidate, value
    return incumbent
"""
)

CASES = [
    ("beam search", BEAM_SORTED),
    ("beam search", BEAM_HEAPQ),
    ("genetic algorithm", GENETIC),
    ("simulated annealing", ANNEALING_METROPOLIS),
    ("bandit / UCB", BANDIT_UCB),
    ("bandit / UCB", EPSILON_GREEDY),
    ("temperature schedule", TEMPERATURE_LOOP),
    ("temperature schedule", TEMPERATURE_SET),
    ("caching", CACHING_MEMO),
    ("caching", CACHING_LRU),
    ("parallel calls", PARALLEL_THREADS),
    ("decomposition", DECOMPOSITION_AST),
    ("decomposition", DECOMPOSITION_SPLIT),
    ("local search", LOCAL_SEARCH),
    ("local search", ANNEALING_METROPOLIS),
]


@pytest.mark.parametrize(("strategy", "source"), CASES, ids=[f"{s}-{i}" for i, (s, _) in enumerate(CASES)])
def test_each_strategy_is_detected_with_evidence(strategy: str, source: str) -> None:
    hits = {hit.strategy: hit for hit in detect_strategies(source)}
    assert strategy in hits, f"{strategy} not detected; found {sorted(hits)}"
    evidence = hits[strategy].evidence
    assert 1 <= len(evidence) <= 3
    lines = source.splitlines()
    for item in evidence:  # every evidence line is a real line of the source, quoted with its number
        number, text = item.split(": ", 1)
        assert lines[int(number[1:]) - 1].strip().startswith(text[:60])


def test_the_paper_seed_improver_uses_no_strategy() -> None:
    assert detect_strategies(load_improver("seed")) == []


def test_words_in_prompts_comments_and_docstrings_do_not_count() -> None:
    source = (
        HEADER
        + '''
def improve_algorithm(initial_solution, utility, language_model):
    """Uses beam search, a genetic algorithm with population and crossover, simulated annealing, UCB bandits,
    caching, threads and decomposition (it does not: this is only the docstring)."""
    # population crossover mutation beam ucb anneal ThreadPoolExecutor
    message = ("Use a genetic algorithm with a population, crossover and mutation; or beam search, "
               "simulated annealing with a cooling schedule, a UCB bandit, or hill climbing.")
    candidates = extract_code(language_model.batch_prompt("expert", [message + initial_solution] * 3,
                                                          temperature=0.7))
    return max(candidates, key=utility)
'''
    )
    assert detect_strategies(source) == []


@pytest.mark.parametrize(
    ("strategy", "source"),
    [
        # a constant temperature, even through a module constant or a pass-through parameter, is no schedule
        (
            "temperature schedule",
            HEADER
            + """
TEMPERATURE = 0.7


def ask(language_model, messages, temperature):
    return language_model.batch_prompt("expert", messages, temperature=temperature)


def improve_algorithm(initial_solution, utility, language_model):
    for _ in range(2):
        candidates = extract_code(ask(language_model, [initial_solution], TEMPERATURE))
    return max([initial_solution, *candidates], key=utility)
""",
        ),
        # a `seen` set deduplicates, it does not cache values
        (
            "caching",
            HEADER
            + """
def improve_algorithm(initial_solution, utility, language_model):
    seen = set()
    unique = []
    for code in extract_code(language_model.batch_prompt("expert", [initial_solution] * 4, temperature=0.7)):
        if code not in seen:
            seen.add(code)
            unique.append(code)
    return max([initial_solution, *unique], key=utility)
""",
        ),
        # the single-shot seed improver picks a max: no loop over LM calls, so no local search
        ("local search", load_improver("seed")),
        # sorting outside any LM loop is not a beam
        (
            "beam search",
            HEADER
            + """
def improve_algorithm(initial_solution, utility, language_model):
    candidates = extract_code(language_model.batch_prompt("expert", [initial_solution] * 4, temperature=0.7))
    ranked = sorted(candidates, key=utility, reverse=True)[:2]
    return ranked[0] if ranked else initial_solution
""",
        ),
        # one genetic-sounding word alone ("mutate" as a prompt helper) is not a GA
        (
            "genetic algorithm",
            HEADER
            + """
def mutate(language_model, code):
    return extract_code(language_model.prompt("expert", "Change one thing: " + code))


def improve_algorithm(initial_solution, utility, language_model):
    return max([initial_solution, *mutate(language_model, initial_solution)], key=utility)
""",
        ),
        # exp without a random draw (a softmax weight) is not a Metropolis test
        (
            "simulated annealing",
            HEADER
            + """import math


def improve_algorithm(initial_solution, utility, language_model):
    candidates = extract_code(language_model.batch_prompt("expert", [initial_solution] * 3, temperature=0.7))
    weights = [math.exp(utility(code) / 0.1) for code in candidates]
    return candidates[weights.index(max(weights))] if candidates else initial_solution
""",
        ),
        # a local variable called `threading` is not the module; no import, no parallel calls
        (
            "parallel calls",
            HEADER
            + """
def improve_algorithm(initial_solution, utility, language_model):
    def Thread(code):
        return code
    return Thread(initial_solution)
""",
        ),
        # splitting text without prompting per piece is not decomposition
        (
            "decomposition",
            HEADER
            + """
def improve_algorithm(initial_solution, utility, language_model):
    lines = initial_solution.splitlines()
    for line in lines:
        print(len(line))
    return max([initial_solution, *extract_code(language_model.prompt("expert", initial_solution))], key=utility)
""",
        ),
        ("bandit / UCB", BEAM_SORTED),
    ],
)
def test_negative_cases(strategy: str, source: str) -> None:
    assert strategy not in strategy_names(source)


def test_truncation_selection_in_a_ga_is_not_called_beam_search() -> None:
    names = strategy_names(GENETIC)
    assert "genetic algorithm" in names
    assert "beam search" not in names


def test_unparsable_code_has_no_strategies() -> None:
    assert detect_strategies("def improve_algorithm(:\n") == []
    assert detect_strategies("x = 1\0") == []


def test_built_in_baselines_are_classified_as_documented() -> None:
    folder = Path(__file__).resolve().parents[2] / "src" / "selftaught" / "improvers" / "builtin"
    expected = {
        "beam.py": "beam search",
        "genetic.py": "genetic algorithm",
        "annealing.py": "simulated annealing",
        "bandit.py": "bandit / UCB",
        "greedy.py": "local search",
    }
    for name, strategy in expected.items():
        assert strategy in strategy_names((folder / name).read_text(encoding="utf-8")), name
    assert "temperature schedule" in strategy_names((folder / "bandit.py").read_text(encoding="utf-8"))


def test_results_follow_the_documented_order_and_names() -> None:
    names = strategy_names(ANNEALING_METROPOLIS)
    assert names == [name for name in STRATEGIES if name in names]
    assert words("bestScore_v2") == ["best", "score", "v2"]
