"""How the offline model words its answers: the shapes real models reply in, drawn per answer.

Real replies vary: GPT-4-style prose around a ```python fence, a terse fence, an untagged fence (many
open models behind Ollama or llama.cpp), a `<think>` section first (reasoning models behind vLLM),
sometimes without its opening tag (chat templates pre-fill it). The program is written as it is, with
no escaping, so an improver's own prompt fences start lines inside the reply's fence, as they do in a
real model's answer. Refusals and answers cut at max_tokens are rare (0.5% each), so the no-LM baseline
loses almost nothing to them. The draw uses its own random stream, so the mutations themselves do not
depend on the wording.
"""

from __future__ import annotations

import random
from collections.abc import Callable

REFUSAL = "I'm sorry, but I can't help with rewriting this code."
NO_PROGRAM = "Idea: none. I found no Python program in the prompt to improve, so I have nothing to change."

Writer = Callable[[str, str], str]  # (idea sentence, program) -> reply


def _prose(idea: str, program: str) -> str:
    return f"Idea: {idea}.\n\n```python\n{program}\n```\n"


def _prose_around(idea: str, program: str) -> str:
    return (
        f"Idea: {idea}.\n\nHere is the improved implementation:\n\n```python\n{program}\n```\n\n"
        "The interface is unchanged, so it can replace the current solution directly."
    )


def _terse(idea: str, program: str) -> str:
    return f"```python\n{program}\n```"


def _untagged(idea: str, program: str) -> str:
    return f"Here is an improved version ({idea}):\n\n```\n{program}\n```\n"


def _think(idea: str, program: str) -> str:
    return (
        f"<think>\nThe current solution can be improved. Plan: {idea}.\n</think>\n\n```python\n{program}\n```"
    )


def _think_prefilled(idea: str, program: str) -> str:
    return f"Plan: {idea}. That should help.\n</think>\n\n```py\n{program}\n```\n"


def _refusal(idea: str, program: str) -> str:
    return REFUSAL


def _truncated(idea: str, program: str) -> str:
    """Cut at max_tokens: about two thirds of the program, no closing fence."""
    lines = program.split("\n")
    return f"Idea: {idea}.\n\n```python\n" + "\n".join(lines[: max(1, (2 * len(lines)) // 3)])


SHAPES: tuple[tuple[str, Writer, float], ...] = (
    ("prose", _prose, 0.40),
    ("prose_around", _prose_around, 0.18),
    ("terse", _terse, 0.12),
    ("untagged", _untagged, 0.12),
    ("think", _think, 0.10),
    ("think_prefilled", _think_prefilled, 0.07),
    ("refusal", _refusal, 0.005),
    ("truncated", _truncated, 0.005),
)


def write_reply(ideas: tuple[str, ...], program: str, rng: random.Random) -> tuple[str, str]:
    """One answer carrying `program` in a shape drawn from `SHAPES`, and its finish reason as an
    endpoint reports it ("stop"; "length" for a cut answer; "refusal")."""
    idea = "; ".join(ideas) if ideas else "keep the program as it is (no valid change found)"
    idea = " ".join(idea.split()).replace("```", "'''").replace("</think>", "")
    name, writer, _weight = rng.choices(SHAPES, weights=[weight for _, _, weight in SHAPES], k=1)[0]
    reason = {"truncated": "length", "refusal": "refusal"}.get(name, "stop")
    return writer(idea, program), reason
