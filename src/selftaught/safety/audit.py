"""Reading a run's safety record back: every event, counted per kind and grouped by what it means.

Any run has events (STOP runs record detector findings, budget overruns and sandbox reports; safety
experiments record every attempt), so the audit works on all of them. Groups put related kinds together
so a reader sees at a glance whether anything was *attempted* (static), *stopped* (sandbox, budget),
*suspicious about scores* (score, gap) or is part of an experiment.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from selftaught.events import group as registry_group
from selftaught.stop.runs import read_run
from selftaught.store import EventRecord


def group_of(kind: str) -> str:
    """The audit group of a kind (declared in the event registry; "other" for undeclared kinds)."""
    return registry_group(kind)


EventRow = EventRecord  # one stored event, as the store defines it


@dataclass
class Audit:
    run_id: str
    meta: dict[str, Any]
    events: list[EventRecord]

    @property
    def counts(self) -> dict[str, int]:
        counter = Counter(event.kind for event in self.events)
        return dict(sorted(counter.items(), key=lambda item: (-item[1], item[0])))

    @property
    def groups(self) -> dict[str, int]:
        counter: Counter[str] = Counter(group_of(event.kind) for event in self.events)
        return dict(sorted(counter.items()))

    @property
    def programs_flagged(self) -> int:
        """Distinct programs with at least one static flag or sandbox report."""
        return len(
            {
                e.program_sha
                for e in self.events
                if e.program_sha and group_of(e.kind) in ("static", "sandbox")
            }
        )

    def to_dict(self, *, limit: int | None = None) -> dict[str, Any]:
        shown = self.events if limit is None else self.events[:limit]
        return {
            "run_id": self.run_id,
            "kind": self.meta.get("kind", "stop"),
            "task": self.meta.get("task"),
            "model": self.meta.get("model"),
            "status": self.meta.get("status"),
            "total": len(self.events),
            "counts": self.counts,
            "groups": self.groups,
            "programs_flagged": self.programs_flagged,
            "events": [asdict(event) for event in shown],
        }


def audit_run(runs_dir: Path, run_id: str, *, kinds: list[str] | None = None) -> Audit:
    """Every event of a run (optionally only kinds starting with one of `kinds`), oldest first."""
    with read_run(runs_dir, run_id) as store:
        events = store.events()
        stored = store.meta()
    meta = {
        "kind": stored.kind,
        "task": stored.task,
        "model": stored.model,
        "status": stored.status,
        "experiment": stored.experiment,
    }
    if kinds:
        events = [event for event in events if event.kind.startswith(tuple(kinds))]
    return Audit(run_id=run_id, meta={k: v for k, v in meta.items() if v is not None}, events=events)
