"""Shared-input directories of killed hosts are removed by the next pool; live hosts' are kept."""

from __future__ import annotations

import os
import subprocess
import sys

from selftaught.sandbox.inputs import PREFIX, SharedInputs, remove_orphans


def test_orphans_of_dead_hosts_are_removed_and_live_ones_kept(tmp_path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(dead.stdout)
    orphan = tmp_path / f"{PREFIX}{dead_pid}-abcd"
    orphan.mkdir()
    (orphan / "array.npy").write_bytes(b"x" * 100)
    live = tmp_path / f"{PREFIX}{os.getpid()}-efgh"
    live.mkdir()
    unrelated = tmp_path / "something-else"
    unrelated.mkdir()
    remove_orphans(str(tmp_path))
    assert not orphan.exists()
    assert live.exists() and unrelated.exists()


def test_a_pool_names_its_directory_after_its_pid() -> None:
    inputs = SharedInputs()
    try:
        assert os.path.basename(inputs.directory).startswith(f"{PREFIX}{os.getpid()}-")
    finally:
        inputs.close()
