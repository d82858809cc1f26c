"""A corpus of reply shapes: how real models wrap a program (S) in their answers.

Each shape is a function S -> reply text, written after what the named servers and models return:
GPT-4-style prose around a ```python fence, terse fence-only answers, open models behind vLLM, Ollama or
llama.cpp (a `<think>` section, sometimes without the opening tag because the chat template pre-fills
it; untagged fences; ```py), answers cut at max_tokens, several blocks, CRLF line ends, list-indented
fences, longer or tilde fences, and bare programs. `NO_PROGRAM` holds replies that carry no program.
"""

from __future__ import annotations

from collections.abc import Callable

Shape = Callable[[str], str]


def gpt4_prose(s: str) -> str:
    return (
        "Idea: widen the search and keep the best candidate so the result is never worse.\n\n"
        "Here is the improved implementation:\n\n"
        f"```python\n{s}\n```\n\n"
        "This version explores more candidates per round; `utility` is only called on parsed programs."
    )


def terse(s: str) -> str:
    return f"```python\n{s}\n```"


def terse_py(s: str) -> str:
    return f"```py\n{s}\n```\n"


def python3_tag(s: str) -> str:
    return f"Sure.\n```python3\n{s}\n```"


def untagged_ollama(s: str) -> str:
    return f"Here is an improved version of the function:\n\n```\n{s}\n```\n"


def think_vllm(s: str) -> str:
    return (
        "<think>\nThe user wants a better program. A first draft:\n```python\ndraft = 1\n```\n"
        "No, the loop bound matters more. I will rewrite it.\n</think>\n\n"
        f"```python\n{s}\n```\n"
    )


def think_prefilled(s: str) -> str:
    """The chat template opened the reasoning section, so the reply starts inside it."""
    return (
        "Okay, let me look at the current solution. It samples too few candidates.\n"
        "```\nscores = []\n```\nThat list is all it keeps.\n</think>\n\n"
        f"Improved solution:\n```python\n{s}\n```"
    )


def think_untagged_llamacpp(s: str) -> str:
    return f"<think>\nshort\n</think>\n```\n{s}\n```"


def truncated(s: str) -> str:
    """Cut at max_tokens right after the program: the closing fence never came."""
    return f"I will keep the structure and change the search.\n\n```python\n{s}\n"


def several_blocks(s: str) -> str:
    return (
        "First, a helper you could reuse:\n```python\nx = 1\n```\n"
        f"And the full program:\n```python\n{s}\n```\n"
        "Usage:\n```bash\npython main.py\n```\n"
    )


def crlf(s: str) -> str:
    return gpt4_prose(s).replace("\n", "\r\n")


def tilde(s: str) -> str:
    return f"~~~python\n{s}\n~~~\n"


def four_backticks(s: str) -> str:
    return f"Program:\n\n````python\n{s}\n````\n"


def list_indented(s: str) -> str:
    body = "\n".join(f"   {line}" if line else "" for line in s.split("\n"))
    return f"1. Replace the function with:\n\n   ```python\n{body}\n   ```\n2. Run it.\n"


def bare(s: str) -> str:
    return f"{s}\n"


def bare_after_think(s: str) -> str:
    return f"<think>\nI should just answer with code.\n</think>\n\n{s}\n"


SHAPES: dict[str, Shape] = {
    shape.__name__: shape
    for shape in (
        gpt4_prose,
        terse,
        terse_py,
        python3_tag,
        untagged_ollama,
        think_vllm,
        think_prefilled,
        think_untagged_llamacpp,
        truncated,
        several_blocks,
        crlf,
        tilde,
        four_backticks,
        list_indented,
        bare,
        bare_after_think,
    )
}

NO_PROGRAM: dict[str, str] = {
    "refusal": "I'm sorry, but I can't help with modifying that code.",
    "keep_it": "I believe the current solution is already a good one; I would keep it as it is.",
    "think_only": "<think>\nThe code is fine.\n</think>\n\nNo change is needed.",
    "empty": "",
    "prose_with_inline_code": "Use `max(candidates, key=utility)` instead of sorting ```all``` of them.",
}
