"""The command line with `--executor ray`: a user's `selftaught eval` against the cluster, same JSON numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.testing.cluster import LoopbackCluster

pytestmark = pytest.mark.ray

PROGRAM = "def algorithm(t, dist):\n    return t\n"


def _eval(tmp_path: Path, *flags: str) -> dict:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    # The subprocess is a loopback driver like this one (see selftaught.testing.cluster).
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    done = subprocess.run(
        [sys.executable, "-m", "selftaught", "eval", "str_grid_dist", str(program), "--json", *flags],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_eval_on_the_cluster_matches_the_local_pool(cluster: LoopbackCluster, tmp_path: Path) -> None:
    local = _eval(tmp_path)
    remote = _eval(tmp_path, "--executor", "ray", "--ray-address", cluster.address)
    keys = ("task", "split", "utility", "instances", "failures")
    assert {k: remote[k] for k in keys} == {k: local[k] for k in keys}
    assert local["failures"] == 0 and local["instances"] == 50
