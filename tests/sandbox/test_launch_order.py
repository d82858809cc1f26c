"""The bubblewrap command line: nothing the sandbox needs may be hidden by a later mount."""

from __future__ import annotations

from selftaught.sandbox.launch import python_paths, strong_spec


def test_tmp_is_mounted_before_the_interpreter_so_a_venv_under_tmp_stays_visible(tmp_path) -> None:
    # CI clones into a fresh folder, possibly under /tmp: a tmpfs on /tmp mounted after the venv's
    # bind would hide the interpreter (seen: "bwrap: execvp .../.venv/bin/python: No such file").
    argv = strong_spec(0, str(tmp_path)).argv
    tmpfs_at = [i for i, arg in enumerate(argv) if arg == "--tmpfs" and argv[i + 1] == "/tmp"]
    assert len(tmpfs_at) == 1
    binds = [i for i, arg in enumerate(argv) if arg == "--ro-bind" and argv[i + 2] in python_paths()]
    assert binds, "the interpreter is bound into the sandbox"
    assert tmpfs_at[0] < min(binds)
