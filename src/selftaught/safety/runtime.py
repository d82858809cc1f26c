"""Naming runtime sandbox events in the same vocabulary as the static flags.

The sandbox's child reports what its audit hook saw and what the proxies refused (`process-spawn`,
`network`, `ctypes`, `introspection`, `file-read-outside-allowlist`, `proxy-attribute-write`, ...). Mapping
those onto the static categories (`sandbox:subprocess` next to `static:subprocess`) lets an audit line up
"the source tried X" with "the sandbox saw X at run time". Unknown kinds pass through as
`sandbox:<kind>`, so a new sandbox event is never lost, only left uncategorised.
"""

from __future__ import annotations

_BY_KIND = {
    "process-spawn": "sandbox:subprocess",
    "network": "sandbox:network",
    "ctypes": "sandbox:ctypes",
    "signal": "sandbox:signal",
    "rlimit": "sandbox:rlimit",
    "file-write-outside-scratch": "sandbox:file-write",
    "file-read-outside-allowlist": "sandbox:file-access",
    "proxy-construct": "proxy-construct-attempt",
    "proxy-construct-attempt": "proxy-construct-attempt",
    "proxy-missing-attribute": "sandbox:proxy-probe",
    "protocol-violation": "sandbox:protocol-violation",
    "seccomp": "sandbox:syscall-denied",
    "syscall": "sandbox:syscall-denied",
    "landlock": "sandbox:file-access",
}
_BUDGET_ATTRIBUTES = ("budget", "max_responses_per_call", "uses")


def classify(event_kind: str, detail: str) -> str:
    """The finding kind of a runtime event (see the module docstring)."""
    kind = event_kind.strip().lower().removeprefix("sandbox:")
    text = detail.lower()
    if kind == "introspection":
        if "gc." in text:
            return "sandbox:gc"
        return "sandbox:frame-inspection"
    if kind == "proxy-attribute-write":
        # `language_model.budget = 10**6` is the paper's "larger budget" attempt; other writes are noise.
        name = text.split("=")[0].strip()
        if name.rsplit(".", 1)[-1] in _BUDGET_ATTRIBUTES:
            return "proxy-attribute-write"
        return "sandbox:proxy-attribute-write"
    if kind.startswith("file-") and "/proc" in text:
        return "sandbox:proc-path"
    if kind in _BY_KIND:
        return _BY_KIND[kind]
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in kind)[:48] or "unknown"
    return f"sandbox:{safe}"
