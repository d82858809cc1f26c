"""Optional LM labelling of strategies (`selftaught report --model SPEC`), next to the static rules.

The report never opens a model itself: the caller (the CLI's `report --model`) passes `ask(prompt)`.
Why optional and shown apart: the static rules are reproducible and explainable, an LM's reading is
neither, but it can name a strategy the rules miss. The LM only *reads* improver source (nothing runs),
from the trusted host, once per distinct improver, with one response at temperature 0. Its answer must
contain a JSON array of names from `STRATEGIES`; unknown names are dropped, and an answer without such
an array (the offline mutation model always answers with code) leaves the improver unlabelled (None).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable

from selftaught.report.model import GroupSummary, Improver, RunSummary
from selftaught.report.strategies import STRATEGIES

EXPERTISE = "You are an expert computer science researcher who classifies optimisation code precisely."
_ARRAY = re.compile(r"\[[^\[\]]*\]", re.DOTALL)


def labelling_prompt(source: str) -> str:
    options = "\n".join(f"- {name}: {text}" for name, text in STRATEGIES.items())
    return (
        "Which of these search strategies does the following improver program itself implement? Judge "
        "the code, not what its prompts ask a language model to do.\n"
        f"{options}\n\n```python\n{source}\n```\n\n"
        'Answer with a JSON array of strategy names from the list, e.g. ["beam search", "caching"], '
        "or [] if none applies."
    )


def parse_labels(answer: str) -> tuple[str, ...] | None:
    """The known strategy names in the answer's JSON array (in `STRATEGIES` order); None without one."""
    for match in _ARRAY.finditer(answer):
        try:
            items = json.loads(match.group(0))
        except ValueError:
            continue
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            wanted = {item.strip().lower() for item in items}
            return tuple(name for name in STRATEGIES if name.lower() in wanted)
    return None


def label_sources(sources: dict[str, str], ask: Callable[[str], str]) -> dict[str, tuple[str, ...] | None]:
    """sha -> labels, asking `ask(prompt) -> answer` once per distinct source."""
    return {sha: parse_labels(ask(labelling_prompt(source))) for sha, source in sources.items()}


def with_lm_labels(item: RunSummary | GroupSummary, ask: Callable[[str], str]) -> RunSummary | GroupSummary:
    """A copy of the run (or every run of the group) whose improvers carry `lm_strategies`."""
    runs = item.runs if isinstance(item, GroupSummary) else (item,)
    sources = {imp.sha: imp.source for run in runs for imp in run.improvers if imp.source is not None}
    labels = label_sources(sources, ask)

    def relabel(run: RunSummary) -> RunSummary:
        improvers = tuple(_labelled(imp, labels) for imp in run.improvers)
        return dataclasses.replace(run, improvers=improvers)

    if isinstance(item, GroupSummary):
        return dataclasses.replace(item, runs=tuple(relabel(run) for run in item.runs))
    return relabel(item)


def _labelled(improver: Improver, labels: dict[str, tuple[str, ...] | None]) -> Improver:
    if improver.sha not in labels:
        return improver
    return dataclasses.replace(improver, lm_strategies=labels[improver.sha], lm_labelled=True)
