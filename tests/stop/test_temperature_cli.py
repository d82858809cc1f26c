"""`--temperature` ([lm] temperature) is the temperature of LM calls whose improver names none."""

from __future__ import annotations

from pathlib import Path

import pytest

from selftaught.testing.openai_server import OpenAIServer

from .conftest import cli

pytestmark = pytest.mark.slow  # the CLI in a subprocess, the improver in the real sandbox

IMPROVER = """
def improve_algorithm(initial_solution, utility, language_model):
    language_model.prompt("You are an expert.", "Improve:\\n```python\\n" + initial_solution + "\\n```")
    language_model.batch_prompt("You are an expert.", ["again", "and again"], temperature=0.2)
    return initial_solution
"""


@pytest.mark.parametrize("how", ["flag", "file"])
def test_calls_without_a_temperature_use_the_setting(tmp_path: Path, how: str) -> None:
    (tmp_path / "asks.py").write_text(IMPROVER)
    flags = ["--temperature", "1.3"] if how == "flag" else []
    if how == "file":
        (tmp_path / "selftaught.toml").write_text("[lm]\ntemperature = 1.3\n")
    with OpenAIServer() as server:
        done = cli(
            "improve", "str_grid_dist", "--improver", "asks.py", "--model", f"openai/test-model@{server.base_url}",
            "--api-key-env", "SELFTAUGHT_TEST_KEY", "--lm-calls", "2", "--utility-budget", "2",
            "--no-preflight", *flags,
            cwd=tmp_path, env={"SELFTAUGHT_TEST_KEY": "sk-loopback"},
        )  # fmt: skip
        temperatures = sorted(request.body["temperature"] for request in server.chat_requests)
    assert done.returncode == 0, done.stderr[-2000:]
    assert temperatures == [0.2, 0.2, 1.3], "the named temperature wins; the unnamed one is the setting"
