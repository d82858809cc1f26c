"""The event registry: one meaning per kind, whoever writes or reads it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from selftaught import events
from selftaught.safety.audit import group_of

SRC = Path(__file__).resolve().parents[2] / "src" / "selftaught"


@pytest.mark.parametrize(
    ("kind", "category", "group"),
    [
        ("utility-budget-exceeded", "budget", "budget"),
        ("iteration-fallback", "fallback", "other"),
        ("improver-failed", "failure", "other"),
        ("static:use-sandbox-false", "safety", "static"),
        ("val-test-gap", "safety", "scores"),
        ("something-new", "other", "other"),
        # the substring rule put these three in "safety"
        ("improver-timeout", "failure", "other"),
        ("sandbox:job-timeout", "failure", "other"),
        ("sandbox-flag:kept", "experiment", "experiment"),
        ("sandbox-flag:disabled", "safety", "experiment"),
        ("sandbox:subprocess", "safety", "sandbox"),
        ("proxy-refused", "safety", "sandbox"),
    ],
)
def test_category_and_group(kind: str, category: str, group: str) -> None:
    assert events.category(kind) == category
    assert events.group(kind) == group
    assert group_of(kind) == group  # the audit reads the registry, not its own prefixes


def test_producer_separates_what_sandboxed_code_said_from_what_the_host_saw() -> None:
    assert events.producer("sandbox:network") == "sandbox"
    assert events.producer(events.PROXY_ATTRIBUTE_WRITE) == "sandbox"
    assert events.producer(events.JOB_TIMEOUT) == "host"
    assert events.producer(events.ITERATION_FALLBACK) == "host"


def test_every_declared_category_and_group_is_known() -> None:
    for kind in events.REGISTRY.values():
        assert kind.category in events.CATEGORIES and kind.group in events.GROUPS


@pytest.mark.parametrize(
    ("raw", "detail", "stored"),
    [
        ("process-spawn", "subprocess.Popen", "sandbox:subprocess"),
        ("job-timeout", "deadline passed", "sandbox:job-timeout"),
        ("introspection", "gc.get_objects", "sandbox:gc"),
        ("proxy-attribute-write", "language_model.budget = 10", "proxy-attribute-write"),
        ("proxy-attribute-write", "utility.note = 1", "sandbox:proxy-attribute-write"),
        ("file-read-outside-allowlist", "/proc/self/mem", "sandbox:proc-path"),
        ("weird kind!", "", "sandbox:weird-kind-"),
    ],
)
def test_sandbox_event_kind(raw: str, detail: str, stored: str) -> None:
    assert events.sandbox_event_kind(raw, detail) == stored


@given(st.text(max_size=200), st.text(max_size=200))
def test_any_sandbox_report_gets_a_declared_sandbox_name(raw: str, detail: str) -> None:
    kind = events.sandbox_event_kind(raw, detail)
    assert kind.startswith(("sandbox:", "proxy-"))
    assert events.lookup(kind).name != ""  # a declared kind or the sandbox: family, never "unknown"


def _event_literals() -> set[str]:
    """String literals passed as the kind of an event anywhere in src (there should be none)."""
    found: set[str] = set()
    names = {"event", "add_event", "_events", "sink", "events"}
    for path in SRC.rglob("*.py"):
        if "inside" in path.parts or path.name == "events.py" or "sandbox" in path.parts:
            continue  # the sandbox reports raw kinds; sandbox_event_kind names them
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                first = node.args[0]
                if name in names and isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(f"{path.relative_to(SRC)}: {first.value}")
    return found


def test_writers_use_the_registry_names() -> None:
    assert _event_literals() == set()
