"""How much of the shared scratch space one child holds: the zygote's per-child quota.

Why: the children of one zygote share one scratch filesystem (a tmpfs in strong mode). Without a
per-child bound one program can take all of its space (the others' writes fail), or create millions of
empty files: they cost kernel memory that no rlimit counts, and removing them when the job ends blocks
the zygote's loop, which serves every other job, for seconds. A few times a second the zygote looks at
the whole filesystem (`filesystem_use`, one syscall); only when all children together hold more than one
share does it measure each child with `usage`, and it ends the child that is over its share.

Stdlib only (runs in the zygote). The walk goes by directory file descriptor, one open at a time (like
`zygote.remove_tree`), never follows symlinks and never builds long paths, so deep trees cannot hide
entries from it; it stops counting past `max_entries`, so its own cost is bounded.
"""

from __future__ import annotations

import contextlib
import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def filesystem_use(path: str) -> tuple[int, int]:
    """(inodes, bytes) in use on the filesystem holding `path`: one syscall, for a cheap first look."""
    fs = os.statvfs(path)
    return fs.f_files - fs.f_ffree, (fs.f_blocks - fs.f_bfree) * fs.f_frsize


def filesystem_size(path: str) -> int:
    """Bytes the filesystem holding `path` can hold."""
    fs = os.statvfs(path)
    return fs.f_blocks * fs.f_frsize


def usage(path: str, max_entries: int) -> tuple[int, int]:
    """(entries, bytes) under the directory `path`; counting stops once entries exceed `max_entries`.

    The child may be changing the tree meanwhile: an entry that vanishes is skipped, and if climbing
    back up does not lead to the directory we came from (the child moved it), the walk stops with what
    it counted so far.
    """
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return 0, 0
    entries = used = 0
    # One item per level: (inode of this directory, subdirectory names still to visit).
    stack: list[tuple[int, list[str]]] = []
    try:
        while True:
            found, size, subdirs = _scan(fd, max_entries - entries + 1)
            entries, used = entries + found, used + size
            stack.append((os.fstat(fd).st_ino, subdirs))
            while stack and entries <= max_entries:
                todo = stack[-1][1]
                if todo:
                    try:
                        child = os.open(todo.pop(), _DIR_FLAGS, dir_fd=fd)
                    except OSError:
                        continue
                    os.close(fd)
                    fd = child
                    break
                stack.pop()
                if not stack:
                    return entries, used
                parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = parent
                if os.fstat(fd).st_ino != stack[-1][0]:
                    return entries, used  # moved under us: what was counted stands
            else:
                return entries, used
    except OSError:
        return entries, used
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)


def _scan(fd: int, limit: int) -> tuple[int, int, list[str]]:
    """Entries (at most `limit`), their bytes and the names of the subdirectories of directory `fd`."""
    found = used = 0
    subdirs: list[str] = []
    with os.scandir(fd) as it:
        for entry in it:
            found += 1
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            used += st.st_blocks * 512
            if stat.S_ISDIR(st.st_mode):
                subdirs.append(entry.name)
            if found >= limit:
                break
    return found, used, subdirs
