"""The offline model: every mutant compiles, answers are reproducible per seed and differ across seeds."""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from selftaught.lm import open_model
from selftaught.lm.backend import Request
from selftaught.lm.offline import OfflineBackend
from selftaught.sandbox.inside.helpers import extract_code

SEED_IMPROVER = (Path(__file__).parents[2] / "src/selftaught/improvers/builtin/seed.py").read_text()
WALKSAT = """import random

def random_walk_solver(formula, max_iter, p):
    n = max(abs(lit) for clause in formula for lit in clause)
    assignments = [False] * (n + 1)
    for _ in range(max_iter):
        unsatisfied = [c for c in formula if not any(assignments[abs(l)] == (l > 0) for l in c)]
        if not unsatisfied:
            return assignments
        clause = random.choice(unsatisfied)
        if random.random() < p:
            lit = random.choice(clause)
        else:
            lit = min(clause, key=lambda l: sum(assignments[abs(l)] == (l > 0) for c in formula if l in c))
        assignments[abs(lit)] = not assignments[abs(lit)]
    return None

def algorithm(formula):
    return random_walk_solver(formula, max_iter=1000, p=0.4)
"""
UTILITY = "def utility(algorithm_str: str):\n    return 0.0\n"
SYSTEM = "You are an expert computer science researcher and programmer."


def seed_prompt(program: str) -> str:
    """The seed improver's message, fences and all."""
    return (
        f"Improve the following solution:\n```python\n{program}\n```\n\nYou will be evaluated based on this "
        f"score function:\n```python\n{UTILITY}\n```\n\nYou must return an improved solution."
    )


def answers(seed: int, message: str, n: int = 6, ordinal: int = 0, scope: str = "") -> tuple[str, ...]:
    request = Request(f"offline:{seed}", SYSTEM, message, n, 0.7, 1024, scope, ordinal)
    return OfflineBackend(seed).answer(request).texts


def finished(seed: int, message: str, n: int = 6, ordinal: int = 0) -> list[str]:
    """The answers that were neither refused nor cut at max_tokens (finish reason "stop")."""
    request = Request(f"offline:{seed}", SYSTEM, message, n, 0.7, 1024, "", ordinal)
    completion = OfflineBackend(seed).answer(request)
    return [t for t, r in zip(completion.texts, completion.finish_reasons, strict=True) if r == "stop"]


def compiles(source: str) -> bool:
    compile(source, "<mutant>", "exec")
    return True


_names = st.sampled_from(["x", "y", "total", "count"])
_numbers = st.one_of(
    st.integers(-50, 2000), st.floats(0.001, 100, allow_nan=False).map(lambda v: round(v, 3))
)
_exprs = st.builds(
    lambda a, op, b: f"{a} {op} {b}", _names, st.sampled_from(["+", "-", "*", "/", "//"]), _numbers
)
_stmts = st.one_of(
    st.builds(lambda n, e: f"{n} = {e}", _names, _exprs),
    st.builds(lambda n, e: f"if {n} < {e}:\n        {n} += 1", _names, _numbers),
    st.builds(
        lambda n, k: f"for i in range({k}):\n        {n} = {n} * 0.99 + i", _names, st.integers(1, 500)
    ),
)


@st.composite
def programs(draw: st.DrawFn) -> str:
    body = draw(st.lists(_stmts, min_size=1, max_size=6))
    lines = (
        ["def algorithm(x):", "    y = total = count = 0.5"]
        + [f"    {s}" for s in body]
        + ["    return x + y"]
    )
    return "\n".join(lines) + "\n"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(), seed=st.integers(0, 10_000), ordinal=st.integers(0, 3))
def test_every_mutant_compiles_and_is_extractable(program: str, seed: int, ordinal: int) -> None:
    for text in finished(seed, seed_prompt(program), n=3, ordinal=ordinal):
        code = extract_code(text)
        assert compiles(code)
        assert "def algorithm" in code


def test_real_programs_mutate_validly_and_improvers_stay_extractable() -> None:
    for program in (WALKSAT, SEED_IMPROVER):
        for seed in range(8):
            for text in finished(seed, seed_prompt(program)):
                code = extract_code(text)
                assert compiles(code)
                assert ast.dump(ast.parse(code)) != ast.dump(ast.parse(program)), (
                    "every answer should change something"
                )


def test_reproducible_for_a_seed_distinct_across_seeds_choices_and_ordinals() -> None:
    prompt = seed_prompt(WALKSAT)
    assert answers(7, prompt) == answers(7, prompt)
    assert answers(7, prompt) != answers(8, prompt)
    assert len(set(answers(7, prompt))) >= 4, "choices of one request should differ"
    assert answers(7, prompt, ordinal=0) != answers(7, prompt, ordinal=1)
    assert answers(7, prompt, scope="a") != answers(7, prompt, scope="b")


def test_constants_of_real_seeds_get_tuned() -> None:
    texts = [t for seed in range(10) for t in answers(seed, seed_prompt(WALKSAT))]
    tuned = [extract_code(t) for t in texts]
    assert any("max_iter=1000" not in code and "max_iter=" in code for code in tuned)
    assert any("p=0.4)" not in code and "p=0." in code for code in tuned)


def test_improver_mutations_the_meta_level_needs_are_reachable() -> None:
    texts = [t for seed in range(25) for t in finished(seed, seed_prompt(SEED_IMPROVER))]
    joined = "\n".join(texts)
    assert "rounds and pool all answers" in joined
    assert "keep the initial solution as a candidate" in joined
    assert "refine iteratively" in joined
    assert "set temperature to" in joined
    for text in texts:
        code = extract_code(text)
        tree = ast.parse(code)
        assert any(isinstance(n, ast.FunctionDef) and n.name == "improve_algorithm" for n in tree.body)


def test_crossover_uses_the_other_programs_of_the_prompt() -> None:
    other = WALKSAT.replace("max_iter=1000, p=0.4", "max_iter=4321, p=0.25")
    prompt = f"Combine these:\n```python\n{WALKSAT}```\nand\n```python\n{other}```\n"
    texts = [t for seed in range(30) for t in answers(seed, prompt, n=2)]
    assert any("from the other program" in t for t in texts)
    assert any("4321" in extract_code(t) for t in texts)


def test_a_prompt_without_code_gets_a_polite_codeless_answer() -> None:
    (text,) = answers(0, "What is the capital of France?", n=1)
    assert "```" not in text and "no Python program" in text


def test_offline_client_reports_tokens_and_zero_cost() -> None:
    records = []
    from selftaught.lm import ModelSettings

    with open_model("offline:4", ModelSettings(recorder=records.append)) as client:
        client.language_model().batch_prompt(SYSTEM, [seed_prompt(WALKSAT)] * 3)
    (record,) = records
    assert record.tokens_in > 50 and record.tokens_out > 100 and record.cost_usd == 0.0 and record.n == 3


PROMPT_STRING = SEED_IMPROVER[
    SEED_IMPROVER.index('f"""Improve') : SEED_IMPROVER.index('implement it."""') + 16
]


def test_improver_replies_carry_the_nested_fences_at_line_start_unescaped() -> None:
    """As a real model writes it: the improver's prompt string keeps its lines, so its own ```python
    fences start lines inside the reply's fence (the shape a regex extractor cuts)."""
    texts = [t for seed in range(12) for t in finished(seed, seed_prompt(SEED_IMPROVER))]
    assert len(texts) >= 60
    kept = 0
    for text in texts:
        assert "\\x60" not in text
        code = extract_code(text)
        assert "def improve_algorithm(initial_solution, utility, language_model):" in code
        if "message = f" in code:  # (a few mutants delete the prompt statement)
            kept += 1
            assert "\n```python\n{initial_solution}\n```\n" in text
            assert PROMPT_STRING in code, "the multi-line prompt string must keep its layout"
    assert kept >= len(texts) * 0.9


def test_comments_and_blank_lines_of_unchanged_statements_survive() -> None:
    program = (
        "import random\n\n\n# tuned by hand\nLIMIT = 40\n\n\ndef algorithm(x):\n"
        "    # first pass\n    total = 0\n\n    for i in range(LIMIT):\n        total += x * 0.5  # half\n"
        "    return total\n"
    )
    codes = [extract_code(t) for seed in range(10) for t in finished(seed, seed_prompt(program))]
    assert all(compiles(code) for code in codes)
    assert sum("# tuned by hand" in code for code in codes) >= len(codes) * 0.9
    assert sum("import random\n\n\n" in code for code in codes) >= len(codes) * 0.9
    assert any("# first pass" in code and code != program.strip() for code in codes)


def test_reply_shapes_vary_and_refusals_and_cuts_are_rare() -> None:
    texts: list[str] = []
    reasons: list[str] = []
    for seed in range(40):
        request = Request(f"offline:{seed}", SYSTEM, seed_prompt(WALKSAT), 6, 0.7, 1024, "", 0)
        completion = OfflineBackend(seed).answer(request)
        texts += completion.texts
        reasons += completion.finish_reasons
    assert any(text.startswith("<think>") for text in texts)
    assert any(text.startswith("```python") for text in texts)
    assert any("\n```\n" in text and "```python" not in text for text in texts), "untagged fences"
    assert reasons.count("stop") >= len(texts) * 0.97
    assert all(extract_code(t) for t, r in zip(texts, reasons, strict=True) if r == "stop")
