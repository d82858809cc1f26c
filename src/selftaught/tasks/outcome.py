"""What a scorer may return beside a bare number: the score plus figures and events worth keeping.

Some tasks have a figure users compare more naturally than the [0, 1] score (the raw sum of radii of a
circle packing, the excess bins of a bin-packing heuristic), and some outcomes deserve an event in the
run record (a packing above the best known one). A scorer returns `Score(value, metrics, events)` for
those; a plain float stays the common case. Metrics and events are only ever produced by the trusted
scorer, after it validated the output, so nothing the program returns can invent them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Score:
    """A score in [0, 1] with named figures (`metrics`) and (kind, detail) events for the run record."""

    value: float
    metrics: dict[str, float] = field(default_factory=dict)
    events: tuple[tuple[str, str], ...] = ()
