"""The paper's seed improver, run host-side, improves a real program through the SDK and the loopback server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from selftaught.lm import CallRecord, open_model
from selftaught.sandbox.inside import helpers
from selftaught.testing.openai_server import OpenAIServer

from .conftest import settings, spec

SEED_IMPROVER = (Path(__file__).parents[2] / "src/selftaught/improvers/builtin/seed.py").read_text()
TARGET = "def algorithm(x):\n    scale = 3\n    return x * scale\n"


class Utility:
    """Scores programs by how close `algorithm(1)` gets to 100 (a stand-in for a task's utility)."""

    str = "def utility(algorithm_str: str):\n    return 1 / (1 + abs(run(algorithm_str)(1) - 100))\n"

    def __init__(self, budget: int = 25) -> None:
        self.budget = budget
        self.uses = 0

    def __call__(self, source: str) -> float:
        self.uses += 1
        if self.uses > self.budget:
            return 0.0
        namespace: dict = {}
        try:
            exec(compile(source, "<candidate>", "exec"), namespace)
            return 1 / (1 + abs(float(namespace["algorithm"](1)) - 100))
        except Exception:
            return 0.0


def test_seed_improver_through_the_sdk_returns_a_real_improvement(
    key_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "helpers", helpers)
    namespace: dict = {}
    exec(compile(SEED_IMPROVER, "seed.py", "exec"), namespace)
    records: list[CallRecord] = []
    with (
        OpenAIServer(offline_seed=1) as server,
        open_model(spec(server), settings(key_env, records=records)) as client,
    ):
        utility = Utility()
        lm = client.language_model(budget=4, max_responses_per_call=6, purpose="e2e")
        improved = namespace["improve_algorithm"](TARGET, utility, lm)
    assert lm.calls_used == 1 and utility.uses == 6
    assert [r.body["n"] for r in server.chat_requests] == [6]
    assert records[0].n == 6 and records[0].tokens_out > 0
    compile(improved, "<improved>", "exec")
    assert improved != TARGET
    assert Utility()(improved) >= Utility()(TARGET)
