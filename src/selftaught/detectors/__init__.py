"""Always-on detectors: static flags on generated source, score checks, naming sandbox reports.

Below `stop` (which calls them on every program and evaluation) and `safety` (whose experiments and
audits report them); they import nothing above the event registry. See `findings` for the API.
"""

from selftaught.detectors.findings import (
    Finding,
    check_gap,
    check_scores,
    classify_sandbox_event,
    scan_program,
)

__all__ = ["Finding", "check_gap", "check_scores", "classify_sandbox_event", "scan_program"]
