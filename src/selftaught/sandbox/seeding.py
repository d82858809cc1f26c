"""Seeds for sandboxed programs: derived by the host with a keyed hash, never a split's raw seed.

Why: a randomised program must give the same answer on an instance every time it is scored (idle or
loaded machine, tests run together or one at a time, whichever child ran it), or scores carry luck.
So each instance call gets its own seed for `random` and numpy. It must not be the split's seed: a
program that reads its generator state back would learn the secret test seed and could rebuild the
hidden instances and labels. HMAC-SHA256 under a key the sandbox never sees makes the derived seeds
useless for that, and stable on one machine: the key lives in the user's config directory (created once,
mode 0600) or in `SELFTAUGHT_SEED_KEY` (hex) to reproduce another machine's values.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger("selftaught.sandbox")
KEY_ENV = "SELFTAUGHT_SEED_KEY"
KEY_BYTES = 32


def key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "selftaught" / "seed.key"


@functools.cache
def seed_key() -> bytes:
    """The derivation key: from the environment, else the config file (made on first use)."""
    text = os.environ.get(KEY_ENV, "").strip()
    if text:
        try:
            return bytes.fromhex(text)
        except ValueError:
            log.warning("%s is not hex; using the key file instead", KEY_ENV)
    path = key_path()
    try:
        return _read_or_create(path)
    except OSError as exc:
        log.warning("cannot keep a seed key in %s (%s): seeds differ between processes", path, exc)
        return secrets.token_bytes(KEY_BYTES)


def _read_or_create(path: Path) -> bytes:
    with contextlib.suppress(FileNotFoundError):
        data = path.read_bytes()
        if len(data) >= 16:
            return data
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = secrets.token_bytes(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(fresh)
    return fresh


def derive(*parts: object) -> int:
    """A 63-bit seed from the parts (e.g. split seed and instance index), keyed."""
    message = "\x1f".join(str(part) for part in parts).encode()
    digest = hmac.new(seed_key(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def instance_seeds(split_seed: int, count: int) -> list[int]:
    """One seed per instance of a split."""
    return [derive("instance", split_seed, index) for index in range(count)]


def setup_seed(split_seed: int) -> int:
    """The seed in force while the program's module-level code runs."""
    return derive("setup", split_seed)


def improver_seed(test_index: int) -> int:
    """The seed of the improver run for meta-utility test `test_index`."""
    return derive("improver", test_index)
