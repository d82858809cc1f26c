"""`selftaught doctor` through the real command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.sandbox.selfcheck import JOB_ENV_NAMES

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

SELFTAUGHT = str(Path(sys.executable).parent / "selftaught")


def test_doctor_json_reports_layers_probe_and_overhead() -> None:
    proc = subprocess.run(
        [SELFTAUGHT, "doctor", "--json", "--jobs", "20"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["mode"] == "strong" and report["ready"] is True
    assert {layer["name"] for layer in report["layers"]} == {
        "linux",
        "bubblewrap",
        "uid-drop",
        "landlock",
        "seccomp",
        "rlimits",
    }
    assert all(layer["available"] and layer["active"] for layer in report["layers"])
    probe = report["probe"]
    assert probe["uid"] >= 61000 and set(probe["env"]) <= JOB_ENV_NAMES
    assert all(v.startswith("blocked") for k, v in probe.items() if k not in ("uid", "env"))
    assert 0 < report["overhead_ms"] < 1000 and report["throughput_jobs_per_s"] > 0


def test_doctor_rejects_an_unknown_mode_in_one_line() -> None:
    proc = subprocess.run(
        [SELFTAUGHT, "doctor", "--sandbox", "paranoid"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().count("\n") == 0 and "strong, weak" in proc.stderr and "paranoid" in proc.stderr
    )
    assert "Traceback" not in proc.stderr
