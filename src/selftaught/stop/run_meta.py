"""What a new run records about itself at its start: settings, version, command line, seeds, where it ran."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from selftaught._version import __version__
from selftaught.config import Settings
from selftaught.stop.assembly import model_spec
from selftaught.store import RunMeta
from selftaught.tasks.evaluation import SCORING_VERSION
from selftaught.tasks.scoring_protocol import default_test_seed


def _command_line() -> str:
    return " ".join(shlex.quote(part) for part in ["selftaught", *sys.argv[1:]])


def new_run_meta(settings: Settings, replicate: int, group: str | None) -> RunMeta:
    """A new run's metadata; the test seed is drawn here (secret, strict) unless the settings fix one."""
    test_seed = settings.test_seed if settings.test_seed is not None else default_test_seed(settings.protocol)
    return RunMeta(
        kind="self-improvement",
        task=settings.task,
        model=model_spec(settings, replicate),
        status="running",
        config=settings.model_dump(mode="json"),
        version=__version__,
        command=_command_line(),
        started=time.time(),
        group=group,
        seed=settings.seed + replicate,
        replicate=replicate,
        test_seed=test_seed,
        scoring_version=SCORING_VERSION,
        workdir=str(Path.cwd()),
    )
