"""The islands improver: its budgets counted exactly, its prompts, and a real improvement end to end.

The unit tests run the built-in improver's text with the `helpers` module it gets in the sandbox and with
stand-in capabilities that count calls exactly as the host does; the "programs" they score are never
executed (their score is read off a comment). The end-to-end test runs it sandboxed on the offline model.
"""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

import selftaught
from selftaught.improvers import load_improver

# What the sandbox puts on sys.path for an improver's `from helpers import ...` (sandbox/launch.py).
MOUNTED = [str(Path(selftaught.__file__).parent / name) for name in ("sandbox/inside", "codetext")]


def islands() -> types.ModuleType:
    sys.path[:0] = MOUNTED
    try:
        module = types.ModuleType("islands_under_test")
        exec(compile(load_improver("islands"), "islands.py", "exec"), module.__dict__)
        return module
    finally:
        for path in MOUNTED:
            sys.path.remove(path)


def value_of(code: str) -> float:
    found = re.search(r"# value (\d+\.\d+)", code)
    return float(found.group(1)) if found else 0.0


class Utility:
    """Counts calls like the host's utility: beyond the budget a call scores 0 and is an overrun."""

    def __init__(self, budget: int) -> None:
        self.budget, self.calls, self.overruns = budget, 0, 0
        self.str = "def utility(algorithm_str): ..."

    def __call__(self, code: str) -> float:
        self.calls += 1
        if self.calls > self.budget:
            self.overruns += 1
            return 0.0
        return value_of(code)


class Model:
    """Answers every message with a new program one step better than the best version it was shown."""

    def __init__(self, budget: int, per_call: int) -> None:
        self.budget, self.max_responses_per_call = budget, per_call
        self.calls: list[list[str]] = []
        self.fresh = 0

    def batch_prompt(self, expertise: str, messages: list[str], temperature: float = 0.7) -> list[str]:
        assert len(messages) <= self.max_responses_per_call
        self.calls.append(list(messages))
        if len(self.calls) > self.budget:
            return []
        answers = []
        for message in messages:
            self.fresh += 1
            best = max(float(value) for value in re.findall(r"# value (\d+\.\d+)", message))
            answers.append(
                f"```python\ndef algorithm():\n    return {self.fresh}\n# value {best + 0.01:.4f}\n```"
            )
        return answers


SEED = "def algorithm():\n    return 0\n# value 0.1000\n"


@pytest.mark.parametrize(("lm", "per_call", "utility"), [(4, 6, 25), (3, 3, 7), (2, 6, 40), (5, 1, 3)])
def test_budgets_are_spent_exactly_and_never_exceeded(lm: int, per_call: int, utility: int) -> None:
    model, score = Model(lm, per_call), Utility(utility)
    best = islands().improve_algorithm(SEED, score, model)
    assert score.overruns == 0 and len(model.calls) <= lm
    # Every answer is new here, so the search uses whichever budget binds first, to the last call.
    assert score.calls == min(utility, 1 + lm * per_call)
    assert len(model.calls) == min(lm, -(-(utility - 1) // per_call))
    assert value_of(best) > value_of(SEED)


def test_prompts_show_two_parents_of_one_island_worst_first_and_the_best_is_returned() -> None:
    model, score = Model(4, 6), Utility(25)
    best = islands().improve_algorithm(SEED, score, model)
    later = [message for call in model.calls[1:] for message in call]
    for message in later:
        shown = [float(value) for value in re.findall(r"Version \d \(score ([\d.]+)\)", message)]
        assert 1 <= len(shown) <= 2 and shown == sorted(shown)  # in increasing score order
    # One parent only right after a reset (the island restarts from a single program).
    assert sum(len(re.findall("Version 1 ", message)) for message in later) >= len(later) // 2
    # The stand-in model climbs by 0.01 per generation, so four generations reach seed + 0.04.
    assert value_of(best) == pytest.approx(0.14)


def test_islands_stay_apart_until_a_reset_brings_the_best_over() -> None:
    module = islands()
    rng = module.random.Random(1)
    groups = [module.Island(SEED, 0.1) for _ in range(3)]
    archive = module.Archive()
    for i, value in enumerate((0.5, 0.3, 0.2)):
        code = f"def algorithm():\n    return {i}\n# value {value}\n"
        groups[i].add(code, value)
        archive.add(code, value)
    assert {code for _, code in groups[2].parents(rng)} <= {code for _, code in groups[2].members}
    module.reset_weakest(groups, archive)
    assert [g.best[0] for g in groups] == [0.5, 0.3, 0.5]  # the weakest (island 2) restarted from the best
    assert len(groups[2].members) == 1


def test_the_archive_keeps_the_best_of_each_length_and_score_cell() -> None:
    archive = islands().Archive()
    archive.add("a" * 10, 0.51)
    archive.add("b" * 20, 0.52)  # same cell (length bin 0, score bin 10): better score wins
    archive.add("c" * 900, 0.52)  # longer: its own cell
    archive.add("d" * 10, 0.9)
    assert sorted(archive.cells.values()) == [(0.52, "b" * 20), (0.52, "c" * 900), (0.9, "d" * 10)]
    assert archive.best() == (0.9, "d" * 10)


@pytest.mark.slow  # a whole offline-model run / many generated outputs
def test_it_improves_the_circle_packing_seed_on_the_offline_model() -> None:
    result = selftaught.improve(
        "circle_packing",
        improver="islands",
        model="offline:0",
        test_seed=777,
        improver_timeout=120.0,
        lm_calls=4,
        responses_per_call=6,
        utility_budget=25,
    )
    assert result.error is None, result.error
    assert result.lm_calls == 4 and result.utility_calls <= 25
    assert not [kind for kind, _ in result.events if "budget-exceeded" in kind], result.events
    assert result.utility_after > result.utility_before


def test_when_nothing_beats_the_initial_solution_it_is_returned_unchanged() -> None:
    class Flat(Model):
        def batch_prompt(self, expertise: str, messages: list[str], temperature: float = 0.7) -> list[str]:
            self.calls.append(list(messages))
            return [
                f"```python\ndef f():\n    return {len(self.calls)}{i}\n# value 0.1000\n```"
                for i in range(len(messages))
            ]

    model, score = Flat(4, 6), Utility(25)
    assert islands().improve_algorithm(SEED, score, model) == SEED  # shorter ties never win over it
