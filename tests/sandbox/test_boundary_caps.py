"""Caps that turn an oversized or malformed request into that call's error, never a run stop."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from selftaught.detectors import scan_program
from selftaught.errors import UsageError
from selftaught.stop.capabilities import (
    MAX_PROGRAM_CHARS,
    MAX_PROMPT_CHARS,
    CallRefused,
    LanguageModelCapability,
    UtilityCapability,
)
from selftaught.tasks.directory import load_task_directory

BUILTIN = Path(__file__).resolve().parents[2] / "src" / "selftaught" / "tasks" / "builtin"


class CountingModel:
    """Stands in for the budgeted model: records whether a call got through to it."""

    budget = 3
    max_responses_per_call = 1
    calls_used = 0

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def prompt(self, expertise: str, message: str, n: int, temperature: float) -> list[str]:
        self.prompts.append(message)
        return ["ok"]

    def batch_prompt(self, expertise: str, messages: list[str], temperature: float) -> list[str]:
        self.prompts.extend(messages)
        return ["ok"] * len(messages)


def test_an_oversized_utility_argument_is_refused_per_call() -> None:
    events: list[tuple[str, str]] = []
    scored: list[str] = []
    utility = UtilityCapability(
        lambda s: scored.append(s) or 0.5, "text", budget=5, events=lambda k, d: events.append((k, d))
    )
    with pytest.raises(CallRefused, match="exceeds the cap"):
        utility("x" * (MAX_PROGRAM_CHARS + 1))
    assert scored == [] and events[0][0] == "utility-program-too-large"
    assert utility("def f(): pass") == 0.5  # the next call is served as usual


@pytest.mark.parametrize("method", ["prompt", "batch_prompt"])
def test_an_oversized_prompt_is_refused_per_call_before_the_model(method: str) -> None:
    events: list[tuple[str, str]] = []
    stops: list[str] = []
    model = CountingModel()
    lm = LanguageModelCapability(model, lambda k, d: events.append((k, d)), on_stop=stops.append)
    huge = "y" * (MAX_PROMPT_CHARS + 1)
    with pytest.raises(CallRefused, match="prompt of"):
        if method == "prompt":
            lm.prompt("expert", huge)
        else:
            lm.batch_prompt("expert", ["short", huge])
    assert model.prompts == [] and stops == [] and events[0][0] == "lm-prompt-too-large"
    assert lm.prompt("expert", "short") == ["ok"]


@pytest.mark.parametrize(
    "source",
    [
        "x = a" + ".b" * 1500,
        "import sys\nsys" + ".b" * 1500 + "._getframe()",
        "import sys\nx.y" + ".b" * 1500 + ".budget = 3",
        "import sys\nsys._getframe" + "().f" * 1500,
        "x = " + "-" * 100_000 + "1",
        "import os\nv = os" + ".path" * 1500 + "\nos.environ['K']",
    ],
)
def test_the_static_scanner_survives_deep_programs(source: str) -> None:
    findings = scan_program(source)  # must not raise
    assert all(isinstance(f.kind, str) for f in findings)


def test_deep_chains_do_not_hide_what_follows() -> None:
    source = "import sys\nx = a" + ".b" * 1500 + "\nsys._getframe(1).f_back"
    kinds = {f.kind for f in scan_program(source)}
    assert "static:frame-inspection" in kinds


def test_a_symlinked_task_file_outside_the_directory_is_refused(tmp_path: Path) -> None:
    task = tmp_path / "task"
    shutil.copytree(BUILTIN / "three_sat", task)
    secret = tmp_path / "secret.py"
    secret.write_text("def solve(*a):\n    return 'HOST SECRET'\n")
    (task / "seed.py").unlink()
    (task / "seed.py").symlink_to(secret)
    with pytest.raises(UsageError, match="outside the task directory"):
        load_task_directory(task)


def test_a_symlink_inside_the_directory_is_fine(tmp_path: Path) -> None:
    task = tmp_path / "task"
    shutil.copytree(BUILTIN / "three_sat", task)
    (task / "seed_real.py").write_text((task / "seed.py").read_text())
    (task / "seed.py").unlink()
    (task / "seed.py").symlink_to(task / "seed_real.py")
    loaded: Any = load_task_directory(task)
    assert loaded.name
