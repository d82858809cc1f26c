"""What the API's one-shot commands return (`improve`, `meta-eval`), and their JSON shapes (the CLI contract)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from selftaught.stop.meta_utility import MetaUtilityResult
from selftaught.store import ImproverRunRecord


@dataclass
class ImproveResult:
    task: str
    improver: str
    utility_before: float
    utility_after: float
    utility_before_test: float
    utility_after_test: float
    lm_calls: int
    utility_calls: int
    program: str
    error: str | None
    events: list[tuple[str, str]] = field(default_factory=list)
    full_program: str = ""  # the whole file (differs from `program` for OpenEvolve EVOLVE-BLOCK tasks)

    def to_json(self) -> str:
        """The JSON text the CLI's `--json` prints (`to_dict()` holds the same as plain values)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "improver": self.improver,
            "utility_before": self.utility_before,
            "utility_after": self.utility_after,
            "utility_before_test": self.utility_before_test,
            "utility_after_test": self.utility_after_test,
            "lm_calls": self.lm_calls,
            "utility_calls": self.utility_calls,
            "program": self.program,
            "error": self.error,
            "events": [{"kind": kind, "detail": detail} for kind, detail in self.events],
        }


@dataclass
class MetaEvalResult:
    improver: str
    result: MetaUtilityResult
    lm_calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float

    def to_json(self) -> str:
        """The JSON text the CLI's `--json` prints (`to_dict()` holds the same as plain values)."""
        return json.dumps(self.to_dict(), indent=2, default=str)

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {
            "improver": self.improver,
            "task": r.task,
            "improver_sha": r.improver_sha,
            "meta_utility": r.meta_utility,
            "meta_utility_test": r.meta_utility_test,
            "stderr_val": r.stderr_val,
            "stderr_test": r.stderr_test,
            "tests": len(r.tests),
            "per_test": [_test_json(test) for test in r.tests],
            "lm_calls": self.lm_calls,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": self.cost_usd,
        }


def _test_json(test: ImproverRunRecord) -> dict[str, Any]:
    """One test of a meta-utility estimate, in meta-eval's JSON shape."""
    return {
        "index": test.test_index,
        "program_sha": test.output_sha,
        "error": test.error,
        "utility_val": test.utility_val,
        "utility_test": test.utility_test,
        "lm_calls": test.lm_calls,
        "utility_calls": test.utility_calls,
        "wall_seconds": test.wall_seconds,
    }
