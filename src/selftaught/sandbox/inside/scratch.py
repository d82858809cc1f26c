"""A child's scratch space: how much of the shared space it holds (the zygote's per-child quota), and
its removal once the child is dead (`remove_scratch`, `remove_tree`).

Why: the children of one zygote share one scratch filesystem (where a child cannot mount a tmpfs of its
own, `mount_tmpfs` below: weak mode, or a kernel that refuses). Without a
per-child bound one program can take all of its space (the others' writes fail), or create millions of
empty files: they cost kernel memory that no rlimit counts, and removing them when the job ends blocks
the zygote's loop, which serves every other job, for seconds. A few times a second the zygote looks at
the whole filesystem (`filesystem_use`, one syscall); only when all children together hold more than one
share does it measure each child with `usage`, and it ends the child that is over its share.

Stdlib only (runs in the zygote). The walk goes by directory file descriptor, one open at a time (like
`remove_tree` below), never follows symlinks and never builds long paths, so deep trees cannot hide
entries from it; it stops counting past `max_entries`, so its own cost is bounded.
"""

from __future__ import annotations

import contextlib
import ctypes
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


def remove_scratch(path: str) -> None:
    """Wipe a child's scratch dir; most programs write nothing, so try the one-syscall case first."""
    try:
        os.rmdir(path)
    except OSError:
        remove_tree(path)


def remove_tree(path: str) -> None:
    """Delete a directory tree without recursion and with one open directory at a time.

    Why not `shutil.rmtree`: a program can build a tree thousands of levels deep (recursion depth) whose
    paths exceed PATH_MAX. This walks by file descriptor: names are resolved relative to the current
    directory's fd, never as long paths, and it climbs back with "..". It runs after the child's process
    group is dead, and never follows symlinks, so nothing can move the tree under it. Best effort: what
    cannot be removed is left (the scratch tmpfs is per zygote).
    """
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return
    # One entry per level below `path`: (this directory's name in its parent, subdirectories still to visit).
    stack: list[tuple[str, list[str]]] = [("", _clear_files(fd))]
    try:
        while stack:
            _name, todo = stack[-1]
            if todo:
                sub = todo.pop()
                try:
                    child = os.open(sub, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                os.close(fd)
                fd = child
                stack.append((sub, _clear_files(fd)))
                continue
            stack.pop()
            if not stack:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            with contextlib.suppress(OSError):
                os.rmdir(_name, dir_fd=fd)
    except OSError:
        pass
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _clear_files(fd: int) -> list[str]:
    """Unlink every non-directory in the directory `fd`; return the names of its subdirectories."""
    subdirs: list[str] = []
    try:
        names = os.listdir(fd)
    except OSError:
        return subdirs
    for name in names:
        try:
            st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if (st.st_mode & 0o170000) == 0o040000:
                subdirs.append(name)
            else:
                os.unlink(name, dir_fd=fd)
        except OSError:
            continue
    return subdirs


_MS_NOSUID, _MS_NODEV = 0x2, 0x4
_MNT_DETACH = 0x2
_libc = ctypes.CDLL(None, use_errno=True)


def mount_tmpfs(path: str, uid: int, size: int, inodes: int) -> bool:
    """Mount a tmpfs of its own at a child's scratch dir `path` (called by the zygote before the fork,
    in its own mount namespace); False if the kernel or our capabilities do not allow it.

    Why: the quota walk above only sees files that have a name. A file unlinked while open (or made with
    O_TMPFILE) still takes space on a shared scratch filesystem, and one child could fill it for every
    other child of the zygote. A tmpfs per child makes the kernel enforce the child's share (bytes and
    inodes, hidden files included); `size` is a cap, not a reservation (tmpfs takes pages as they are
    written), so an idle child holds nothing. Mounted by the zygote, it stays visible to the zygote: one
    `statvfs` tells what the child holds (`filesystem_use`), for the budget over all children.
    """
    options = f"size={size},nr_inodes={inodes},mode=0700,uid={uid},gid={uid}".encode()
    return _libc.mount(b"tmpfs", path.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options) == 0


def unmount(path: str) -> None:
    """Drop a dead child's scratch tmpfs: all its pages are freed at once, however many files it held."""
    _libc.umount2(path.encode(), _MNT_DETACH)
    with contextlib.suppress(OSError):
        os.rmdir(path)
