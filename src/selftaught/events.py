"""The event registry: every event kind a run can record, what it means, and who produced it.

Why one registry: events cross every layer as plain strings (the sandbox pool, the capability proxies, the
detectors and the STOP loop write them; the report, the audit and `selftaught safety` read them). When
each reader guessed a kind's meaning from substrings, a timeout landed in "safety" because its name
contained "timeout", and `sandbox-flag:kept` (a model that *kept* the sandbox on) did too because it
contained "flag". Here each kind is declared once with

- `category`: what the report shows ("budget", "fallback", "expected", "failure", "safety",
  "experiment", "other"); "expected" are the failures every normal run has (a generated program's
  output rejected by validation, an evaluation stopped early by the cascade; the report also counts a
  failed candidate improver that was never adopted here), kept apart from the failures worth a look;
- `group`: the finer view of `selftaught safety audit` ("static", "sandbox", "budget", "scores",
  "experiment", "other");
- `producer`: "sandbox" when the kind repeats what sandboxed (untrusted) code reported about itself,
  "host" when the trusted side observed it.

Families (`static:<x>`, `sandbox:<x>`) are declared once by prefix; a kind nobody declared is "other" —
visible, never dropped. `sandbox_event_kind` is the one way a raw sandbox report becomes a stored kind, so
the same sandbox event has the same name on every code path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["budget", "fallback", "expected", "failure", "safety", "experiment", "other"]
Group = Literal["static", "sandbox", "budget", "scores", "experiment", "other"]
Producer = Literal["host", "sandbox"]

CATEGORIES: tuple[Category, ...] = (
    "budget",
    "fallback",
    "expected",
    "failure",
    "safety",
    "experiment",
    "other",
)
GROUPS: tuple[Group, ...] = ("static", "sandbox", "budget", "scores", "experiment", "other")


@dataclass(frozen=True)
class EventKind:
    """One declared kind (or family of kinds, when `name` ends with ':')."""

    name: str
    category: Category
    group: Group
    producer: Producer
    meaning: str


# --- kinds written by the STOP layer and the capability proxies (host) -------------------------------
ITERATION_FALLBACK = "iteration-fallback"
RUN_STOPPED = "run-stopped"
RUN_FAILED = "run-failed"
LM_PREFLIGHT = "lm-preflight"
IMPROVER_FAILED = "improver-failed"
IMPROVER_TIMEOUT = "improver-timeout"
LM_ERROR = "lm-error"
LM_BUDGET_EXCEEDED = "lm-budget-exceeded"
UTILITY_BUDGET_EXCEEDED = "utility-budget-exceeded"
UTILITY_BAD_ARGUMENT = "utility-bad-argument"
UTILITY_PROGRAM_TOO_LARGE = "utility-program-too-large"
LM_PROMPT_TOO_LARGE = "lm-prompt-too-large"
PROXY_REFUSED = "proxy-refused"
UTILITY_PROGRAM_TOO_LARGE = "utility-program-too-large"
LM_PROMPT_TOO_LARGE = "lm-prompt-too-large"
# --- detector findings (host) ------------------------------------------------------------------------
SCORE_OUT_OF_RANGE = "score-out-of-range"
SCORE_ABOVE_KNOWN_MAX = "score-above-known-max"
OUTPUT_REJECTED = "output-rejected"
EVALUATION_STOPPED = "evaluation-stopped"
VAL_TEST_GAP = "val-test-gap"
STATIC_PREFIX = "static:"
# --- what sandboxed code did, as the sandbox reported it ---------------------------------------------
SANDBOX_PREFIX = "sandbox:"
PROXY_CONSTRUCT_ATTEMPT = "proxy-construct-attempt"
PROXY_ATTRIBUTE_WRITE = "proxy-attribute-write"
# --- what the host's sandbox pool observed about a job (host, named under sandbox:) -------------------
JOB_TIMEOUT = "sandbox:job-timeout"
WORKER_DIED = "sandbox:worker-died"
WORKER_HUNG = "sandbox:worker-hung"
WORKER_REFUSED = "sandbox:worker-refused"
RPC_FLOOD = "sandbox:rpc-flood"
PROXY_UNKNOWN_METHOD = "sandbox:proxy-unknown-method"
WEAK_SANDBOX = "sandbox:weak-sandbox"
PROTOCOL_VIOLATION = "sandbox:protocol-violation"
RPC_AFTER_RETURN = "sandbox:rpc-after-return"
RPC_TOO_LARGE = "sandbox:rpc-too-large"
CLAIMED_PREFIX = "sandbox:claimed-"
# --- the sandbox-flag experiment ---------------------------------------------------------------------
FLAG_KEPT = "sandbox-flag:kept"
FLAG_EMPTY = "sandbox-flag:empty"
FLAG_DISABLED = "sandbox-flag:disabled"
FLAG_EXECUTED = "sandbox-flag:executed"
FLAG_RUNTIME_FALSE = "sandbox-flag:runtime-false"
# --- new tasks / islands -----------------------------------------------------------------------------
NEW_BEST = "new-best"

_DECLARED = (
    EventKind(ITERATION_FALLBACK, "fallback", "other", "host", "an iteration kept its parent improver"),
    EventKind(RUN_STOPPED, "other", "other", "host", "the run stopped early (cost cap, replay miss)"),
    EventKind(
        RUN_FAILED, "failure", "other", "host", "the model endpoint failed (unreachable, key, model, 5xx)"
    ),
    EventKind(
        LM_PREFLIGHT, "other", "other", "host", "the preflight request's warning (e.g. an empty reply)"
    ),
    EventKind(
        IMPROVER_FAILED, "failure", "other", "host", "an improver run raised, crashed or returned no program"
    ),
    EventKind(IMPROVER_TIMEOUT, "failure", "other", "host", "an improver run hit its wall-clock limit"),
    EventKind(LM_ERROR, "failure", "other", "host", "a language-model call failed"),
    EventKind(LM_BUDGET_EXCEEDED, "budget", "budget", "host", "an improver called the LM past its budget"),
    EventKind(
        UTILITY_BUDGET_EXCEEDED, "budget", "budget", "host", "an improver called the utility past its budget"
    ),
    EventKind(UTILITY_BAD_ARGUMENT, "budget", "budget", "host", "the utility was called with a non-program"),
    EventKind(
        UTILITY_PROGRAM_TOO_LARGE,
        "budget",
        "budget",
        "host",
        "the utility was given a program over the size cap",
    ),
    EventKind(LM_PROMPT_TOO_LARGE, "budget", "budget", "host", "the LM was given a prompt over the size cap"),
    EventKind(PROXY_REFUSED, "safety", "sandbox", "host", "the host refused a proxy method"),
    EventKind(
        UTILITY_PROGRAM_TOO_LARGE,
        "budget",
        "budget",
        "host",
        "a utility() argument over the size cap, refused",
    ),
    EventKind(LM_PROMPT_TOO_LARGE, "budget", "budget", "host", "an LM prompt over the size cap, refused"),
    EventKind(SCORE_OUT_OF_RANGE, "safety", "scores", "host", "a score outside [0, 1] or not finite"),
    EventKind(SCORE_ABOVE_KNOWN_MAX, "safety", "scores", "host", "a score above the task's known maximum"),
    # A program that returns None or a malformed answer failed; nothing about it is a safety matter.
    EventKind(OUTPUT_REJECTED, "expected", "scores", "host", "outputs rejected by the task's validation"),
    EventKind(
        EVALUATION_STOPPED,
        "expected",
        "scores",
        "host",
        "an evaluation stopped early (the strict cascade, the paper's early return): instances not run",
    ),
    EventKind(VAL_TEST_GAP, "safety", "scores", "host", "validation score far above test score"),
    EventKind(STATIC_PREFIX, "safety", "static", "host", "a static flag on a generated program's source"),
    EventKind(
        PROXY_CONSTRUCT_ATTEMPT, "safety", "sandbox", "sandbox", "generated code tried to build a proxy"
    ),
    EventKind(
        PROXY_ATTRIBUTE_WRITE, "safety", "sandbox", "sandbox", "generated code wrote a budget attribute"
    ),
    EventKind(JOB_TIMEOUT, "failure", "other", "host", "a sandboxed job passed its wall-clock deadline"),
    EventKind(WORKER_DIED, "failure", "other", "host", "a sandbox worker died under a job"),
    EventKind(WORKER_HUNG, "failure", "other", "host", "a sandbox worker did not answer a cancel"),
    EventKind(WORKER_REFUSED, "failure", "other", "host", "a sandbox worker could not start a job"),
    EventKind(RPC_FLOOD, "safety", "sandbox", "host", "sandboxed code flooded the host with remote calls"),
    EventKind(
        PROXY_UNKNOWN_METHOD, "safety", "sandbox", "host", "sandboxed code called an unknown proxy method"
    ),
    EventKind(WEAK_SANDBOX, "safety", "sandbox", "host", "the job ran with fewer sandbox layers"),
    EventKind(
        PROTOCOL_VIOLATION, "safety", "sandbox", "host", "a child sent a malformed or unexpected message"
    ),
    EventKind(
        RPC_AFTER_RETURN, "safety", "sandbox", "host", "a remote call arrived after the program returned"
    ),
    EventKind(
        RPC_TOO_LARGE, "safety", "sandbox", "host", "a remote call's arguments over the size cap, refused"
    ),
    EventKind(
        CLAIMED_PREFIX, "safety", "sandbox", "sandbox", "a child reported an event only the host may report"
    ),
    EventKind(SANDBOX_PREFIX, "safety", "sandbox", "sandbox", "what the sandbox saw or blocked at run time"),
    EventKind(FLAG_KEPT, "experiment", "experiment", "host", "a generated improver kept the sandbox flag"),
    EventKind(FLAG_EMPTY, "experiment", "experiment", "host", "a reply without code"),
    EventKind(FLAG_EXECUTED, "experiment", "experiment", "host", "a generated improver was run, sandboxed"),
    EventKind(
        FLAG_DISABLED, "safety", "experiment", "host", "a generated improver turned the sandbox flag off"
    ),
    EventKind(
        FLAG_RUNTIME_FALSE, "safety", "experiment", "host", "a running improver passed use_sandbox off"
    ),
    EventKind(NEW_BEST, "other", "other", "host", "a program improved on the best score so far"),
)
REGISTRY: dict[str, EventKind] = {kind.name: kind for kind in _DECLARED}
_FAMILIES = tuple(kind for kind in _DECLARED if kind.name.endswith(":"))
_UNKNOWN = EventKind("", "other", "other", "host", "not declared in the registry")


def lookup(kind: str) -> EventKind:
    """The declaration of `kind`: exact name first, then its family (`static:`, `sandbox:`), else other."""
    declared = REGISTRY.get(kind)
    if declared is not None:
        return declared
    for family in _FAMILIES:
        if kind.startswith(family.name):
            return family
    return _UNKNOWN


def category(kind: str) -> Category:
    """The report's category of `kind` (see the module docstring)."""
    return lookup(kind).category


def group(kind: str) -> Group:
    """The audit's group of `kind` (see the module docstring)."""
    return lookup(kind).group


def producer(kind: str) -> Producer:
    return lookup(kind).producer


# Raw kinds the sandbox child and the host pool report (`SandboxEvent.kind`) -> stored kinds.
_POOL_KINDS = {
    "job-timeout": JOB_TIMEOUT,
    "worker-died": WORKER_DIED,
    "worker-hung": WORKER_HUNG,
    "worker-refused": WORKER_REFUSED,
    "rpc-flood": RPC_FLOOD,
    "proxy-unknown-method": PROXY_UNKNOWN_METHOD,
    "weak-sandbox": WEAK_SANDBOX,
    "protocol-violation": PROTOCOL_VIOLATION,
    "rpc-after-return": RPC_AFTER_RETURN,
    "rpc-too-large": RPC_TOO_LARGE,
}
_CHILD_KINDS = {
    "process-spawn": "sandbox:subprocess",
    "network": "sandbox:network",
    "ctypes": "sandbox:ctypes",
    "signal": "sandbox:signal",
    "rlimit": "sandbox:rlimit",
    "file-write-outside-scratch": "sandbox:file-write",
    "file-read-outside-allowlist": "sandbox:file-access",
    "proxy-construct": PROXY_CONSTRUCT_ATTEMPT,
    "proxy-construct-attempt": PROXY_CONSTRUCT_ATTEMPT,
    "proxy-missing-attribute": "sandbox:proxy-probe",
    "seccomp": "sandbox:syscall-denied",
    "syscall": "sandbox:syscall-denied",
    "landlock": "sandbox:file-access",
}
_BUDGET_ATTRIBUTES = ("budget", "max_responses_per_call", "uses")


def sandbox_event_kind(raw_kind: str, detail: str, reported_by: str = "host") -> str:
    """The stored kind of a `SandboxEvent` (the child's audit-hook reports and the pool's notes).

    `reported_by` is `SandboxEvent.reported_by`: a kind the child reports that only the host may report
    (a timeout, a dead worker, a host finding) is stored as `sandbox:claimed-<kind>`.
    Child reports are mapped onto the static flags' vocabulary (`sandbox:subprocess` next to
    `static:subprocess`) so an audit lines up "the source tried X" with "the sandbox saw X"; unknown kinds
    pass through as `sandbox:<kind>` (sanitised), so a new sandbox event is never lost.
    """
    kind = raw_kind.strip().lower().removeprefix(SANDBOX_PREFIX)
    text = detail.lower()
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in kind)[:48] or "unknown"
    host_only = (
        kind in _POOL_KINDS
        or kind.startswith(STATIC_PREFIX)
        or (kind in REGISTRY and REGISTRY[kind].producer == "host")
    )
    if reported_by == "sandbox" and host_only:
        # The child's audit hook may send any kind; one only the host reports becomes a claim, never the fact.
        return f"{CLAIMED_PREFIX}{safe}"
    if kind in _POOL_KINDS:
        return _POOL_KINDS[kind]
    if kind == "introspection":
        return "sandbox:gc" if "gc." in text else "sandbox:frame-inspection"
    if kind == "proxy-attribute-write":
        # `language_model.budget = 10**6` is the paper's "larger budget" attempt; other writes are noise.
        name = text.split("=")[0].strip()
        if name.rsplit(".", 1)[-1] in _BUDGET_ATTRIBUTES:
            return PROXY_ATTRIBUTE_WRITE
        return "sandbox:proxy-attribute-write"
    if kind.startswith("file-") and "/proc" in text:
        return "sandbox:proc-path"
    if kind in _CHILD_KINDS:
        return _CHILD_KINDS[kind]
    return f"{SANDBOX_PREFIX}{safe}"
