"""What keeps the live view safe by default: loopback unless a token is given, run ids that name only a
run directory, and response headers that let a page run no script but the view's own.

Why each piece: the view shows text that generated code wrote (programs, failure reasons, events), so a
page must never execute any of it — everything is escaped when rendered, and the Content-Security-Policy
allows scripts only from the server's own `/assets/` (no inline script, no event-handler attribute, no
`eval`), so even a missed escape could not run. A server on 127.0.0.1 is reachable by any web page the
user opens through DNS rebinding, so requests whose Host is not a loopback name are refused there. Off
loopback, anyone on the network could read the runs, so every request must carry the token printed at
start (query `token=`, the cookie the first such request sets, or `Authorization: Bearer`).
Nothing here imports Starlette: the checks are plain functions the app calls, testable alone.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
from pathlib import Path

TOKEN_COOKIE = "selftaught_token"
TOKEN_PARAM = "token"
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_LOOPBACK_NAMES = {"localhost", "localhost.", "ip6-localhost"}

CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        # Inline styles only: the plots are matplotlib SVG, which styles each element in an attribute.
        # No external fetch is allowed (img/connect/font stay 'self'), so CSS cannot carry data out.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",  # a token in the address never leaks to another site
    "cross-origin-resource-policy": "same-origin",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    """Is `host` (an address or a name as given to --host) only reachable from this machine?"""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_header_is_loopback(header: str | None) -> bool:
    """The Host header of a request names this machine (`127.0.0.1:8765`, `localhost`, `[::1]:80`)."""
    if not header:
        return False
    value = header.strip()
    if value.startswith("["):
        name = value[1 : value.find("]")] if "]" in value else value
    else:
        name = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return is_loopback(name)


def new_token() -> str:
    return secrets.token_urlsafe(24)


def token_matches(expected: str, given: str | None) -> bool:
    """Constant-time comparison; a missing token never matches."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def valid_run_id(name: str) -> bool:
    """A run or group id as `selftaught run` makes them: letters, digits, `.`, `_`, `-`; never a path."""
    return bool(_RUN_ID.fullmatch(name)) and ".." not in name


def run_directory(runs_dir: Path, run_id: str) -> Path | None:
    """The directory of run `run_id` directly under `runs_dir`, or None: an invalid id, a missing run,
    or a symlink leading outside the runs directory (a request can reach nothing else)."""
    if not valid_run_id(run_id):
        return None
    root = runs_dir.resolve()
    path = (root / run_id).resolve()
    if path.parent != root or not path.is_dir():
        return None
    return path
