"""Endpoint failures stop a CLI command or a whole run loudly, by exit code and exception type (the
in-process cases, on the loopback server alone, are in test_endpoint_failures.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.lm import EndpointError
from selftaught.testing.openai_server import Fault, OpenAIServer

from .conftest import spec

pytestmark = pytest.mark.slow  # end to end: the CLI in a subprocess

DEAD = "openai/x@http://127.0.0.1:9/v1"


def _cli(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "selftaught", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "OPENAI_API_KEY": "sk-unused"},
    )


@pytest.mark.parametrize("flags", [(), ("--no-preflight",)], ids=["preflight", "mid-run"])
def test_dead_endpoint_run_fails_fast_with_exit_1(tmp_path: Path, flags: tuple[str, ...]) -> None:
    result = _cli(
        "run",
        "--model",
        DEAD,
        "--iterations",
        "1",
        "--tests",
        "1",
        "--runs-dir",
        str(tmp_path),
        *flags,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "127.0.0.1:9" in result.stderr and "cannot connect" in result.stderr
    assert "gave up after 3 attempts" in result.stderr  # the short retry of a refused connection
    runs = _cli("runs", "--runs-dir", str(tmp_path), "--json", cwd=tmp_path)
    [run] = json.loads(runs.stdout)
    assert run["status"] == "failed"


@pytest.mark.long  # waits out real retries
def test_doctor_model_prints_latency_and_reply(tmp_path: Path) -> None:
    with OpenAIServer(reply=lambda body, index: "ready") as server:
        ok = _cli("doctor", "--model", f"openai/test-model@{server.base_url}", "--json", cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["reply"] == "ready" and report["latency_s"] >= 0
    dead = _cli("doctor", "--model", DEAD, cwd=tmp_path)
    assert dead.returncode == 1 and "cannot connect" in dead.stderr
    with OpenAIServer(check_model=True) as server:
        wrong = _cli("doctor", "--model", f"openai/nope@{server.base_url}", cwd=tmp_path)
    assert wrong.returncode == 2 and "404" in wrong.stderr and "model name" in wrong.stderr


def test_improve_fails_when_the_endpoint_fails_mid_way(key_env: str, tmp_path: Path) -> None:
    import selftaught
    from selftaught.config import Settings

    with OpenAIServer() as server:
        server.enqueue_faults(*[Fault.server_error(503)] * 10)
        settings = Settings(
            model=spec(server), api_key_env=key_env, max_retries=1, preflight=False, runs_dir=tmp_path,
            lm_calls=1, responses_per_call=2, utility_budget=2,
        )  # fmt: skip
        with pytest.raises(EndpointError):
            selftaught.improve("str_grid_dist", settings=settings)


@pytest.mark.long  # waits out real retries
def test_doctor_and_the_run_s_preflight_give_up_after_the_same_attempts(tmp_path: Path) -> None:
    """One retry policy: on an endpoint that answers every request with a 500, `doctor --model` and a
    run's preflight make the same number of attempts (the run's max-retries from selftaught.toml) and
    both exit 1 naming that number."""
    (tmp_path / "selftaught.toml").write_text("[lm]\nmax-retries = 2\nrequest-timeout = 10\n")
    with OpenAIServer(fault_rule=lambda _body, _index: Fault.server_error(500)) as server:
        model = f"openai/test-model@{server.base_url}"
        doctor = _cli("doctor", "--model", model, cwd=tmp_path)
        by_doctor = len(server.chat_requests)
        run = _cli("run", "--model", model, "--iterations", "1", cwd=tmp_path)
        by_run = len(server.chat_requests) - by_doctor
    assert doctor.returncode == 1 and run.returncode == 1, (doctor.stderr, run.stderr)
    assert by_doctor == by_run == 3, (by_doctor, by_run)
    assert "gave up after 3 attempts" in doctor.stderr and "gave up after 3 attempts" in run.stderr
    assert "--resume" in run.stderr  # a preflight failure leaves a run that can be continued
