"""Which search strategies an improver uses, by documented static rules on its syntax tree.

Why static rules and not an LM: the paper's reviewers asked which strategies appear across runs, so the
classification must be reproducible, cheap and explainable — every hit carries the source lines that
triggered it. The rules themselves, one function each, are `strategy_rules`; the index of the parsed
improver they share is `strategy_syntax`. This module names the strategies and turns the rules' evidence
into the report's `StrategyHit`s.
"""

from __future__ import annotations

from selftaught.codetext import pysource
from selftaught.report.model import StrategyHit
from selftaught.report.strategy_rules import RULES
from selftaught.report.strategy_syntax import ImproverCode

STRATEGIES: dict[str, str] = {
    "beam search": "keeps the k best candidates and expands each (beam / tree search)",
    "genetic algorithm": "population, crossover and mutation of candidate programs",
    "simulated annealing": "accepts worse candidates with probability exp(-delta / T)",
    "bandit / UCB": "chooses among options (prompts, temperatures) by UCB, Thompson or epsilon-greedy",
    "temperature schedule": "varies the LM sampling temperature",
    "caching": "remembers utility values or LM answers instead of recomputing them",
    "parallel calls": "runs work concurrently with threads, processes or asyncio",
    "decomposition": "improves the solution part by part",
    "local search": "iteratively refines an incumbent, keeping a change only when it scores higher",
}

_MAX_EVIDENCE = 3


def detect_strategies(source: str) -> list[StrategyHit]:
    """The strategies `source` uses, in `STRATEGIES` order, each with up to three evidence lines.

    Code that does not parse uses no detectable strategy (an empty list), it is not an error: improvers
    in a run can be anything a model wrote.
    """
    tree = pysource.parse_or_none(source)
    if tree is None:
        return []
    code = ImproverCode(source, tree)
    found: list[StrategyHit] = []
    for name in STRATEGIES:
        nodes = RULES[name](code)
        if nodes:
            evidence = list(dict.fromkeys(code.line(node) for node in nodes))
            found.append(StrategyHit(name, tuple(sorted(evidence, key=_line_number)[:_MAX_EVIDENCE])))
    return found


def _line_number(evidence: str) -> int:
    return int(evidence[1 : evidence.index(":")])


def strategy_names(source: str) -> list[str]:
    """Just the names (convenience for counts and tables)."""
    return [hit.strategy for hit in detect_strategies(source)]
