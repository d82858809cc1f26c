"""Optional LM labelling of strategies: through the real client against the loopback OpenAI server."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from selftaught.report import load_run_summary, render_html
from selftaught.report.lm_labels import label_sources, labelling_prompt, parse_labels, with_lm_labels
from selftaught.testing.openai_server import OpenAIServer

SECRET = "sk-loopback-report-0123456789"


def test_parse_labels_keeps_only_known_names() -> None:
    assert parse_labels('I see ["Beam search", "caching", "magic"] here') == ("beam search", "caching")
    assert parse_labels("[]") == ()
    assert parse_labels("```python\ndef f(x): return x[0]\n```") is None
    assert parse_labels("no array at all") is None


def test_prompt_lists_every_strategy_and_the_code() -> None:
    prompt = labelling_prompt("def improve_algorithm(a, u, l):\n    return a\n")
    assert "def improve_algorithm" in prompt and all(
        name in prompt for name in ("beam search", "local search")
    )


def test_each_distinct_improver_is_asked_once(run_dir: Path) -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return '["local search"]'

    labelled = with_lm_labels(load_run_summary(run_dir), ask)
    assert len(asked) == 2  # seed + beam (t=2 kept the beam improver)
    assert all(imp.lm_labelled and imp.lm_strategies == ("local search",) for imp in labelled.improvers)
    page = render_html(labelled)
    assert 'data-lm-strategy="local search"' in page


def test_report_model_flag_through_the_openai_compatible_client(
    run_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from selftaught.cli import main

    monkeypatch.setenv("SELFTAUGHT_REPORT_KEY", SECRET)

    def reply(body: dict, index: int) -> str:
        text = body["messages"][-1]["content"]
        return '["beam search"]' if "beam = [" in text else "[]"

    with OpenAIServer(api_key=SECRET, reply=reply) as server:
        monkeypatch.setattr(
            sys,
            "argv",
            [
                "selftaught",
                "report",
                run_dir.name,
                "--runs-dir",
                str(run_dir.parent),
                "--format",
                "json",
                "--model",
                f"openai/test-model@{server.base_url}",
                "--api-key-env",
                "SELFTAUGHT_REPORT_KEY",
            ],
        )
        main()
        requests = len(server.chat_requests)
    data = json.loads(capsys.readouterr().out)
    assert requests == 2
    labels = {imp["t"]: imp["lm_strategies"] for imp in data["improvers"]}
    assert labels == {0: [], 1: ["beam search"], 2: ["beam search"]}


def test_the_offline_model_gives_no_usable_labels(run_dir: Path) -> None:
    from selftaught.cli.report import model_asker

    ask, close = model_asker("offline:0")
    try:
        labels = label_sources({"x": load_run_summary(run_dir).improvers[1].source or ""}, ask)
    finally:
        close()
    assert labels == {"x": None}
