"""Failure(kind, detail): the meaning travels with the text, and the text stays what it was."""

from __future__ import annotations

import json
import pickle

from hypothesis import given
from hypothesis import strategies as st

from selftaught.failure import Failure, FailureKind, failure_of


def test_text_is_unchanged_and_kind_is_typed() -> None:
    failure = Failure.timeout()
    assert failure == "timeout" and failure.kind is FailureKind.TIMEOUT
    assert json.dumps({"error": failure}) == '{"error": "timeout"}'
    rejected = Failure(FailureKind.INVALID_OUTPUT, "invalid output: not a list")
    assert str(rejected) == "invalid output: not a list" and rejected.detail == str(rejected)


def test_parse_classifies_sandbox_wire_text() -> None:
    assert Failure.parse("timeout").kind is FailureKind.TIMEOUT
    assert Failure.parse("timeout during setup (5 s)").kind is FailureKind.TIMEOUT
    assert Failure.parse("exception: ValueError: boom").kind is FailureKind.EXCEPTION
    assert Failure.parse("killed: job timeout").kind is FailureKind.KILLED
    assert Failure.parse("unserializable: object").kind is FailureKind.OTHER
    assert failure_of(None) is None


def test_pickle_keeps_the_kind() -> None:
    again = pickle.loads(pickle.dumps(Failure(FailureKind.KILLED, "killed: SIGSEGV")))
    assert again.kind is FailureKind.KILLED and again == "killed: SIGSEGV"


@given(st.text(max_size=300))
def test_parse_never_changes_the_text(text: str) -> None:
    failure = Failure.parse(text)
    assert failure == text and failure.kind in FailureKind
    assert Failure.parse(failure) is failure
