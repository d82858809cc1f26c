"""The offline model: a seeded program-mutation engine with the LM interface (never an LLM)."""

from selftaught.lm.offline.engine import OPERATORS, Mutant, OfflineBackend, mutate, mutation_rng

__all__ = ["OPERATORS", "Mutant", "OfflineBackend", "mutate", "mutation_rng"]
