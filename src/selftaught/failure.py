"""Why something failed, typed: `Failure(kind, detail)`.

Failure reasons used to cross the layers as free text that readers matched by prefix ("invalid output",
"timeout"), and "timeout" itself was minted in three places. A `Failure` carries a machine `kind` (what
callers branch on) and the one-line human `detail` (what tables, the run store and `--verbose` JSON show).

It is a `str` whose value is `detail`, so the JSON contracts and stored rows stay exactly the text they
always were; code that needs the meaning reads `.kind`. The sandbox's inside code is stdlib-only and
reports plain strings over the wire; `Failure.parse` is the one place such text is classified.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class FailureKind(StrEnum):
    TIMEOUT = "timeout"  # an instance, improver or job ran past its wall-clock limit
    EXCEPTION = "exception"  # the program raised
    KILLED = "killed"  # the sandbox killed the child (crash, memory, job deadline, worker death)
    SETUP = "setup"  # the source did not define its entry point (syntax, import error, check failed)
    INVALID_OUTPUT = "invalid-output"  # the output failed the task's validation
    BAD_RETURN = "bad-return"  # an improver returned no usable program (not a string, empty, too big)
    NO_RESULT = "no-result"  # the sandbox stopped before answering
    NOT_RUN = "not-run"  # never run: an early stop (the strict cascade, the paper's early returns)
    OTHER = "other"  # anything else the sandbox said (unserializable output, protocol violation, ...)


_PREFIXES = (
    ("timeout", FailureKind.TIMEOUT),
    ("exception:", FailureKind.EXCEPTION),
    ("killed:", FailureKind.KILLED),
    ("setup:", FailureKind.SETUP),
    ("invalid output", FailureKind.INVALID_OUTPUT),
    ("no result", FailureKind.NO_RESULT),
    ("not run", FailureKind.NOT_RUN),
    ("returned ", FailureKind.BAD_RETURN),
)


class Failure(str):
    """A failure reason: `str(failure)` is its one-line detail, `failure.kind` its meaning."""

    kind: FailureKind

    def __new__(cls, kind: FailureKind, detail: str | None = None) -> Failure:
        self = super().__new__(cls, detail if detail is not None else kind.value)
        self.kind = kind
        return self

    @property
    def detail(self) -> str:
        return str.__str__(self)

    def __getnewargs__(self) -> tuple[Any, ...]:  # pickling (Ray) keeps the kind
        return (self.kind, self.detail)

    def __repr__(self) -> str:
        return f"Failure({self.kind.value!r}, {self.detail!r})"

    @classmethod
    def timeout(cls, detail: str | None = None) -> Failure:
        return cls(FailureKind.TIMEOUT, detail)

    @classmethod
    def parse(cls, text: str | Failure) -> Failure:
        """Classify a reason reported as text (the sandbox wire, rows stored by older versions)."""
        if isinstance(text, Failure):
            return text
        lowered = text.lower()
        for prefix, kind in _PREFIXES:
            if lowered.startswith(prefix):
                return cls(kind, text)
        return cls(FailureKind.OTHER, text)


def failure_of(text: str | None) -> Failure | None:
    """`Failure.parse` that keeps None (success) as None."""
    return None if text is None else Failure.parse(text)
