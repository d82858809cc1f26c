"""Endpoint faults mid-run, through the CLI as a user meets them, against the loopback server.

An endpoint that turns bad mid-run (malformed JSON) fails the run, exit 1, with the resume command,
and the resume finishes it once the endpoint is good again; a prompt the server cannot handle stays
that call's error, and the run completes.
"""

from __future__ import annotations

import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from selftaught.testing.openai_server import Fault, OpenAIServer

from .conftest import cli

pytestmark = [
    pytest.mark.slow,
    pytest.mark.long,
]  # whole runs in the real sandbox, the CLI in a subprocess; tens of seconds each

KEY_ENV = {"SELFTAUGHT_TEST_KEY": "sk-loopback"}
SMALL_FLAGS = (
    "--task", "str_grid_dist", "--iterations", "1", "--tests", "2", "--estimate-tests", "2", "--lm-calls", "2",
    "--responses-per-call", "3", "--utility-budget", "4", "--test-seed", "777",
    "--api-key-env", "SELFTAUGHT_TEST_KEY",
)  # fmt: skip
FAST_RETRIES = "[lm]\nmax-retries = 1\nrequest-timeout = 10\n"


def _runs(runs: Path, cwd: Path) -> list[dict[str, Any]]:
    done = cli("runs", "--runs-dir", str(runs), "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_malformed_json_mid_run_fails_the_run_and_resume_finishes_it(tmp_path: Path) -> None:
    (tmp_path / "selftaught.toml").write_text(FAST_RETRIES)
    runs = tmp_path / "runs"
    with OpenAIServer() as server:
        # The preflight and the first calls are answered; from the 6th request on, every body is cut.
        server.fault_rule = lambda _body, index: Fault.truncated_json() if index >= 5 else None
        model = f"openai/test-model@{server.base_url}"
        failed = cli(
            "run", *SMALL_FLAGS, "--model", model, "--runs-dir", str(runs), cwd=tmp_path, env=KEY_ENV
        )
        assert failed.returncode == 1, failed.stderr[-2000:]
        assert "Traceback" not in failed.stderr
        [run] = _runs(runs, tmp_path)
        assert run["status"] == "failed"
        assert "malformed reply" in failed.stderr and "check request" in failed.stderr
        resume = f"selftaught run --resume {run['run_id']} --runs-dir {runs}"
        assert resume in failed.stderr, failed.stderr[-2000:]
        # The last progress line keeps the counts where the run stopped (as `runs` counts steps) and says
        # it failed, instead of closing every level at what was done (`iteration 0/0 | candidate 1/1`).
        last = [line for line in failed.stderr.splitlines() if line.startswith("progress:")][-1]
        assert f"iteration {run['iterations']}/1 |" in last and last.endswith("| run failed"), last
        server.fault_rule = None  # the endpoint is good again
        resumed = cli(*resume.split()[1:], cwd=tmp_path, env=KEY_ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    [run] = _runs(runs, tmp_path)
    assert run["status"] == "completed" and run["iterations"] == 1
    # test-model has no known price: its costs read unknown (never a free-looking $0.00), and the
    # table's note says how to give a price
    assert "0.0000" not in resumed.stdout and "unknown" in resumed.stdout, resumed.stdout
    assert "--prices-file" in resumed.stdout
    last = [line for line in resumed.stderr.splitlines() if line.startswith("progress:")][-1]
    assert "cost unknown" in last and "$" not in last, last


def test_a_prompt_the_server_cannot_handle_never_fails_the_run(tmp_path: Path) -> None:
    """Every prompt of the self-improvement step (it carries the improver's source) loses its
    connection; the endpoint answers everything else, so the step fails and the run completes."""
    (tmp_path / "selftaught.toml").write_text(FAST_RETRIES)
    runs = tmp_path / "runs"

    def rule(body: dict[str, Any], _index: int) -> Fault | None:
        return Fault.reset() if "def improve_algorithm" in json.dumps(body) else None

    with OpenAIServer(fault_rule=rule) as server:
        model = f"openai/test-model@{server.base_url}"
        done = cli("run", *SMALL_FLAGS, "--model", model, "--runs-dir", str(runs), cwd=tmp_path, env=KEY_ENV)
    assert done.returncode == 0, done.stderr[-2000:]
    [run] = _runs(runs, tmp_path)
    assert run["status"] == "completed"


def test_a_preflight_failure_says_the_run_can_be_resumed_and_it_can(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    flags = [*SMALL_FLAGS, "--iterations", "0", "--runs-dir", str(runs)]
    with OpenAIServer(api_key="sk-right") as server:
        model = f"openai/test-model@{server.base_url}"
        wrong = cli("run", *flags, "--model", model, cwd=tmp_path, env={"SELFTAUGHT_TEST_KEY": "sk-wrong"})
        assert wrong.returncode == 2, wrong.stderr[-2000:]
        assert "401" in wrong.stderr and "Traceback" not in wrong.stderr
        [run] = _runs(runs, tmp_path)
        resume = f"selftaught run --resume {run['run_id']} --runs-dir {runs}"
        assert f"continue it with `{resume}`" in wrong.stderr, wrong.stderr
        right = cli(*resume.split()[1:], cwd=tmp_path, env={"SELFTAUGHT_TEST_KEY": "sk-right"})
    assert right.returncode == 0, right.stderr[-2000:]
    [run] = _runs(runs, tmp_path)
    assert run["status"] == "completed"


def test_settings_that_cannot_work_leave_no_run_directory(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    cases = {
        ("--model", "ofline"): "did you mean 'offline'",
        ("--model", "gpt-4o"): "did you mean 'openai/gpt-4o'",
        ("--model", "openai/unpriced-model", "--max-cost", "1"): "--prices-file",
        ("--model", "openai/gpt-4o", "--api-key-env", "SELFTAUGHT_NO_SUCH_KEY"): "$SELFTAUGHT_NO_SUCH_KEY",
        ("--task", "threesat"): "did you mean 'three_sat'",
        ("--improver", "gredy"): "did you mean 'greedy'",
    }
    for flags, expected in cases.items():
        done = cli("run", *flags, "--runs-dir", str(runs), cwd=tmp_path, env=KEY_ENV)
        assert done.returncode == 2 and expected in done.stderr, (flags, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        if flags[0] in ("--model", "--task", "--improver") and "did you mean" in expected:
            assert flags[0] in done.stderr
    assert not runs.exists(), "no run directory for settings that cannot work"
    (tmp_path / "selftaught.toml").write_text('[lm]\nmodel = "ofline"\n')
    done = cli("run", "--runs-dir", str(runs), cwd=tmp_path)
    assert done.returncode == 2 and "lm.model" in done.stderr and "did you mean 'offline'" in done.stderr


def test_the_tests_of_an_estimate_ask_a_slow_server_at_once(tmp_path: Path) -> None:
    """Requests overlap where the work allows: the improver runs of one meta-utility estimate ask the
    server together. The server holds the first request until a second one arrives (up to 120 s); were
    requests sent one at a time, the second would never come while the first waits, and the estimate's
    requests would never be in flight together."""
    second = threading.Event()
    seen = itertools.count()

    def reply(body: dict[str, Any], choice: int) -> str:
        if choice == 0 and body.get("max_tokens", 0) > 64:  # not the preflight's short check
            if next(seen) == 0:
                second.wait(120)
            else:
                second.set()
        return "Keep it:\n```python\ndef improve_algorithm(s, u, l):\n    return s\n```\n"

    with OpenAIServer(reply=reply) as server:
        model = f"openai/test-model@{server.base_url}"
        done = cli(
            "meta-eval", "seed", "--task", "str_grid_dist", "--tests", "3", "--model", model,
            "--api-key-env", "SELFTAUGHT_TEST_KEY", cwd=tmp_path, env=KEY_ENV,
        )  # fmt: skip
        in_flight = server.max_in_flight
    assert done.returncode == 0, done.stderr[-2000:]
    assert second.is_set() and in_flight >= 2, in_flight
