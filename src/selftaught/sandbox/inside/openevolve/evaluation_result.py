"""`EvaluationResult`, compatible with `openevolve.evaluation_result.EvaluationResult`.

Same fields and helpers as OpenEvolve's dataclass: `metrics` (name -> float; `combined_score`, when
present, is the one number that counts) and `artifacts` (name -> str or bytes: stderr, tracebacks, notes
that can be fed back to the language model). selftaught reads only these two fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class EvaluationResult:
    """Metrics plus side information of one evaluation, as returned by an `evaluate(program_path)`."""

    metrics: dict[str, float]
    artifacts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, metrics: dict[str, float]) -> EvaluationResult:
        """Wrap a plain metrics dict (what older evaluators return)."""
        return cls(metrics=metrics)

    def to_dict(self) -> dict[str, float]:
        """The metrics alone, as older OpenEvolve code expects."""
        return self.metrics

    def has_artifacts(self) -> bool:
        return bool(self.artifacts)

    def get_artifact_keys(self) -> list[str]:
        return list(self.artifacts.keys())

    def get_artifact_size(self, key: str) -> int:
        """Size of one artifact in bytes (0 if absent)."""
        value = self.artifacts.get(key)
        if value is None:
            return 0
        if isinstance(value, bytes):
            return len(value)
        return len(str(value).encode("utf-8"))

    def get_total_artifact_size(self) -> int:
        return sum(self.get_artifact_size(key) for key in self.artifacts)
