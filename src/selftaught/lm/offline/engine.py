"""The offline model: a seeded, deterministic program-mutation engine behind the LM interface.

It is not a language model. It reads the program in the prompt (the largest fenced Python block that
is not the scorer's description), applies one to three mutation operators chosen by weight among those
that apply, checks that the mutant compiles (reverting an operator otherwise, falling back to the
original program if nothing works) and answers like an LM: one line naming the idea, then a fenced
block. Randomness comes only from sha256(seed, scope, prompt key, ordinal, choice index), so the same
run replays identically, the choices of one request differ, and different seeds differ.
"""

from __future__ import annotations

import ast
import hashlib
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from selftaught.codetext import pysource
from selftaught.lm.backend import Completion, Request, estimate_tokens
from selftaught.lm.offline.blocks import CodeBlock, choose_target, find_blocks
from selftaught.lm.offline.improver_ops import is_improver, iterate_refinement, keep_initial, more_rounds
from selftaught.lm.offline.layout import Layout, render_like
from selftaught.lm.offline.operators import (
    MutationContext,
    Operator,
    change_loop_bound,
    crossover,
    delete_statement,
    duplicate_statement,
    perturb_number,
    swap_arithmetic,
    swap_comparison,
    swap_statements,
)
from selftaught.lm.offline.replies import NO_PROGRAM, write_reply
from selftaught.lm.offline.treecopy import copy_tree


@dataclass(frozen=True)
class WeightedOperator:
    name: str
    apply: Operator
    weight: float
    improvers_only: bool = False


# Weights favour changes that keep a program working (constants, bounds) over ones that mostly break
# it (deletions, swaps); the improver operators dominate when the program is an improver.
OPERATORS: tuple[WeightedOperator, ...] = (
    WeightedOperator("perturb_number", perturb_number, 4.0),
    WeightedOperator("change_loop_bound", change_loop_bound, 1.5),
    WeightedOperator("swap_comparison", swap_comparison, 0.7),
    WeightedOperator("swap_arithmetic", swap_arithmetic, 0.7),
    WeightedOperator("duplicate_statement", duplicate_statement, 0.6),
    WeightedOperator("delete_statement", delete_statement, 0.4),
    WeightedOperator("swap_statements", swap_statements, 0.4),
    WeightedOperator("crossover", crossover, 2.5),
    WeightedOperator("more_rounds", more_rounds, 3.0, improvers_only=True),
    WeightedOperator("keep_initial", keep_initial, 3.0, improvers_only=True),
    WeightedOperator("iterate_refinement", iterate_refinement, 2.0, improvers_only=True),
)

_ATTEMPTS_PER_REPLY = 6


@dataclass(frozen=True)
class Mutant:
    """One answer: the source (None when the prompt held no program) and what was done to it."""

    source: str | None
    ideas: tuple[str, ...]
    operators: tuple[str, ...]

    def reply(self, rng: random.Random) -> tuple[str, str]:
        """The answer, worded in one of the shapes real models use (see `replies`), and its finish
        reason."""
        if self.source is None:
            return NO_PROGRAM, "stop"
        return write_reply(self.ideas, self.source, rng)


def mutation_rng(seed: int, scope: str, key: str, ordinal: int, choice: int) -> random.Random:
    """The only source of randomness of an answer."""
    digest = hashlib.sha256(f"{seed}\x00{scope}\x00{key}\x00{ordinal}\x00{choice}".encode()).digest()
    return random.Random(int.from_bytes(digest[:16], "big"))


def mutate(
    target: CodeBlock,
    partners: Sequence[CodeBlock],
    rng: random.Random,
    temperature: float,
    layout: Layout | None = None,
) -> Mutant:
    """Apply 1-3 operators to `target`; every returned source compiles. `layout` is the target's
    (`Layout(target.source, target.tree)`), built once per request when its replies share the target."""
    context = MutationContext(
        rng=rng, strength=min(2.0, max(0.1, temperature)), partners=[p.tree for p in partners]
    )
    improver = is_improver(target.tree)
    pool = [op for op in OPERATORS if improver or not op.improvers_only]
    layout = layout or Layout(target.source, target.tree)
    for _ in range(_ATTEMPTS_PER_REPLY):
        wanted = 1 + (rng.random() < 0.45) + (rng.random() < 0.2)
        # Operators change only their own copy (`trial`), so the target's tree is never copied twice
        # and never changed: copying is most of what a mutation costs.
        tree = target.tree
        written = ""  # the unparsed source of `tree` once an operator has changed it
        ideas: list[str] = []
        used: list[str] = []
        candidates = list(pool)
        while candidates and len(used) < wanted:
            operator = _pick(candidates, rng)
            candidates.remove(operator)
            trial = copy_tree(tree)
            description = operator.apply(trial, context)
            if description is None:
                continue
            source = _writable(ast.fix_missing_locations(trial))
            if source is None:
                continue
            tree, written = trial, source
            ideas.append(description)
            used.append(operator.name)
        if not used or ast.dump(tree) == layout.dump:
            continue
        rendered = render_like(tree, layout, fallback=written)
        if rendered is not None:
            return Mutant(rendered, tuple(ideas), tuple(used))
    return Mutant(target.source, (), ())


def _writable(tree: ast.Module) -> str | None:
    """The tree written as source when that source compiles, else None (operators may build odd
    trees)."""
    try:
        source = ast.unparse(tree)
        pysource.check_compiles(source, "<mutant>")
    except (SyntaxError, ValueError, TypeError, AttributeError, OverflowError, RecursionError, MemoryError):
        return None  # pysource.SourceError is a SyntaxError; the rest are ast.unparse's failures
    return source


def _pick(candidates: list[WeightedOperator], rng: random.Random) -> WeightedOperator:
    return rng.choices(candidates, weights=[op.weight for op in candidates], k=1)[0]


class OfflineBackend:
    """Backend adapter: answers every request with `n` mutants of the prompt's program."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __repr__(self) -> str:
        return f"OfflineBackend(seed={self.seed})"

    def answer(self, request: Request) -> Completion:
        started = time.perf_counter()
        target, partners = choose_target(find_blocks(request.message))
        layout = None if target is None else Layout(target.source, target.tree)
        replies: list[tuple[str, str]] = []
        for choice in range(request.n):
            wording = mutation_rng(
                self.seed, f"{request.scope}\x00reply", request.key, request.ordinal, choice
            )
            if target is None:
                replies.append(Mutant(None, (), ()).reply(wording))
                continue
            rng = mutation_rng(self.seed, request.scope, request.key, request.ordinal, choice)
            replies.append(mutate(target, partners, rng, request.temperature, layout).reply(wording))
        texts = [text for text, _ in replies]
        return Completion(
            texts=tuple(texts),
            tokens_in=estimate_tokens(request.system + request.message),
            tokens_out=sum(estimate_tokens(text) for text in texts),
            finish_reasons=tuple(reason for _, reason in replies),
            latency_s=time.perf_counter() - started,
        )

    def complete_many(self, requests: list[Request]) -> list[Completion | BaseException]:
        return [self.answer(request) for request in requests]

    def close(self) -> None:
        """Nothing to release."""
