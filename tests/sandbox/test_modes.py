"""Layer reporting, the strong-mode gate and the loudly-logged weak mode."""

from __future__ import annotations

import logging

import pytest

from selftaught.errors import SandboxUnavailable
from selftaught.sandbox import Job, LayerStatus, SandboxPool, check_layers
from selftaught.sandbox.layers import require_strong
from selftaught.sandbox.selfcheck import JOB_ENV_NAMES

SLOW = pytest.mark.slow  # end to end: real sandbox jobs (the refusal's wording is a unit test)


@SLOW
def test_every_layer_is_reported_available_here() -> None:
    statuses = check_layers("strong")
    names = [s.name for s in statuses]
    assert names == ["linux", "bubblewrap", "uid-drop", "landlock", "seccomp", "rlimits"]
    assert all(s.available and s.active for s in statuses), statuses


def test_a_missing_layer_refuses_with_reason_and_fix() -> None:
    statuses = [
        LayerStatus("linux", True, True, "6.x"),
        LayerStatus("bubblewrap", False, False, "bwrap not found", "apt-get install bubblewrap"),
    ]
    with pytest.raises(SandboxUnavailable) as info:
        require_strong(statuses)
    message = str(info.value)
    assert "bubblewrap" in message and "apt-get install bubblewrap" in message and "--sandbox=weak" in message
    assert "\n" not in message


@SLOW
def test_unknown_mode_is_a_usage_error() -> None:
    with pytest.raises(SandboxUnavailable):
        SandboxPool(1, mode="paranoid")  # type: ignore[arg-type]


@SLOW
def test_weak_mode_runs_and_says_so_in_every_result(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="selftaught.sandbox"), SandboxPool(1, mode="weak") as pool:
        src = "import os\ndef f(x):\n    return [x * 2, os.getuid(), sorted(os.environ)]\n"
        result = pool.run(Job(source=src, entry="f", instances=[[21]]))
        blocked = pool.run(Job(source="import os\ndef f():\n    os.fork()\n", entry="f", instances=[[]]))
    doubled, uid, env = result.instances[0].output
    assert doubled == 42 and uid >= 61000 and set(env) <= JOB_ENV_NAMES
    assert result.events[0].kind == "weak-sandbox" and "bubblewrap" in result.events[0].detail
    assert blocked.instances[0].error is not None and "PermissionError" in blocked.instances[0].error
    assert any("WEAK SANDBOX" in r.message for r in caplog.records)


@SLOW
def test_weak_mode_still_contains_the_probe() -> None:
    """Without namespaces, uid drop + Landlock + seccomp + rlimits still block the doctor's probe."""
    from selftaught.sandbox.selfcheck import PROBE, PROBES

    with SandboxPool(1, mode="weak") as pool:
        result = pool.run(Job(source=PROBE, entry="probe", instances=[[]], memory_mb=256))
    probe = result.instances[0].output
    assert probe is not None, result
    attempts = {k: v for k, v in probe.items() if k not in ("uid", "env")}
    assert len(attempts) == PROBES
    assert all(v.startswith("blocked") for v in attempts.values()), attempts
    assert probe["uid"] >= 61000 and set(probe["env"]) <= JOB_ENV_NAMES
