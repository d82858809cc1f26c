"""Errors that cross module boundaries.

`UsageError` is the one exception the CLI turns into a one-line message and exit code 2: raise it for
anything the user can fix (bad flag, missing file, malformed task directory), never for our own bugs.
"""


class UsageError(Exception):
    """Bad input or bad usage: shown to the user as one line, exit code 2."""


class SandboxUnavailable(UsageError):
    """A required isolation layer is missing; the message says which and how to get it."""


class BudgetExceeded(Exception):
    """A language-model or utility budget is spent (the paper's 'You have exceeded your call budget')."""
