"""The live view as an ASGI app (Starlette): pages, their bodies, versions to poll, and three assets.

Routes (GET only): `/` every run; `/runs/{id}` one run; `/groups/{id}` the runs of one `--seeds N`
invocation; each with `.../body` (the part a page swaps in) and `/api/...version` (what a page polls);
`/assets/{report.css,report.js,live.js}`. Nothing else is served: no file of the runs directory is ever
sent as a file, and ids that are not plain run ids answer 404. The `Guard` middleware wraps every
request (token, Host, security headers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from selftaught.report import html as report_html
from selftaught.report.code_view import escape
from selftaught.report.page import PAGE_JS, stylesheet
from selftaught.serve import pages
from selftaught.serve.guard import (
    SECURITY_HEADERS,
    TOKEN_COOKIE,
    TOKEN_PARAM,
    host_header_is_loopback,
    token_matches,
)
from selftaught.serve.views import RunsView

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_INDEX_NAV = [("runs", "Runs")]


def live_js() -> str:
    return resources.files("selftaught.serve").joinpath("live.js").read_text(encoding="utf-8")


class Guard:
    """Every request: a token when one is set (query, cookie or bearer), a loopback Host header when the
    server listens on loopback only, and the security headers on every answer (errors included)."""

    def __init__(self, app: ASGIApp, *, token: str | None, loopback: bool) -> None:
        self.app = app
        self.token = token
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        refusal = self._refusal(scope, headers)
        set_cookie = self.token is not None and refusal is None and self._query_token(scope) is not None

        async def guarded_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(key.encode(), value.encode()) for key, value in SECURITY_HEADERS.items()]
                if set_cookie and self.token is not None:
                    cookie = f"{TOKEN_COOKIE}={self.token}; HttpOnly; SameSite=Strict; Path=/"
                    extra.append((b"set-cookie", cookie.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if refusal is not None:
            status, text = refusal
            await PlainTextResponse(text, status_code=status)(scope, receive, guarded_send)
            return
        await self.app(scope, receive, guarded_send)

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> tuple[int, str] | None:
        if self.loopback and not host_header_is_loopback(headers.get("host")):
            return 403, "refused: this view answers only requests addressed to a loopback name\n"
        if self.token is None:
            return None
        given = [self._query_token(scope), _cookie(headers.get("cookie", ""), TOKEN_COOKIE)]
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given.append(auth[7:].strip())
        if any(token_matches(self.token, value) for value in given):
            return None
        return 401, "refused: missing or wrong token (open the address `selftaught serve` printed)\n"

    @staticmethod
    def _query_token(scope: Scope) -> str | None:
        values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(TOKEN_PARAM)
        return values[-1] if values else None


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def _not_found(what: str) -> HTMLResponse:
    return HTMLResponse(f"<!DOCTYPE html><p>{escape(what)}</p>\n", status_code=404)


Parts = Callable[[str], "tuple[str, str, str, str] | None"]  # id -> (version, title, head, main)
Versions = Callable[[str], "dict[str, Any] | None"]  # id -> what a page polls


def live_routes(
    prefix: str, kind: str, parts: Parts, versions: Versions, nav: Sequence[tuple[str, str]]
) -> list[Route]:
    """`/{prefix}/{id}` (the page), `/{prefix}/{id}/body` (what it swaps in) and
    `/api/{prefix}/{id}/version` (what it polls), for runs and groups alike."""

    def link(ident: str) -> str:
        return f"/{prefix}/{quote(ident, safe='')}"

    async def page(request: Request) -> Response:
        ident = request.path_params["ident"]
        found = await run_in_threadpool(parts, ident)
        if found is None:
            return _not_found(f"no {kind} {ident!r} in this view")
        version, title, head_html, main = found
        return HTMLResponse(
            pages.page(
                title,
                head_html,
                nav,
                main,
                kind=kind,
                version=version,
                version_url=f"/api{link(ident)}/version",
                body_url=f"{link(ident)}/body",
            )
        )

    async def body(request: Request) -> Response:
        ident = request.path_params["ident"]
        found = await run_in_threadpool(parts, ident)
        if found is None:
            return _not_found(f"no {kind} {ident!r} in this view")
        version, _title, head_html, main = found
        return HTMLResponse(pages.body(head_html, main, version))

    async def version(request: Request) -> Response:
        found = await run_in_threadpool(versions, request.path_params["ident"])
        if found is None:
            return JSONResponse({"error": f"no such {kind}"}, status_code=404)
        return JSONResponse(found)

    return [
        Route(f"/{prefix}/{{ident}}", page),
        Route(f"/{prefix}/{{ident}}/body", body),
        Route(f"/api/{prefix}/{{ident}}/version", version),
    ]


def make_app(runs_dir: Path, *, token: str | None = None, loopback: bool = True) -> ASGIApp:
    """The live view over `runs_dir` (read-only). `token`: required on every request when given."""
    view = RunsView(Path(runs_dir))

    def index_parts() -> tuple[str, str]:
        version = view.listing_version()
        return version, pages.runs_index(view.summaries())

    def index_head() -> str:
        return pages.head(f"runs in <code>{escape(view.runs_dir)}</code>", ())

    def run_parts(run_id: str) -> tuple[str, str, str, str] | None:
        """(version, title, head, main) of a run's page; None when there is no such run."""
        entry = view.entry(run_id)
        if entry is None:
            return None
        if entry.summary is None:
            warning = f"this run cannot be read yet: {entry.error}"
            return entry.version, f"STOP run {run_id}", pages.head("", (warning,)), ""
        summary = entry.summary
        title, subtitle = report_html.run_title(summary)
        rendered = view.rendered(run_id, "run", report_html.run_body)
        assert rendered is not None
        return rendered[0], title, pages.head(subtitle, summary.warnings), rendered[1]

    def group_parts(group_id: str) -> tuple[str, str, str, str] | None:
        found = view.group_rendered(group_id, report_html.group_body)
        if found is None:
            return None
        version, group, main = found
        title, subtitle = report_html.group_title(group)
        return version, title, pages.head(subtitle, report_html.group_warnings(group)), main

    async def index(request: Request) -> Response:
        version, main = await run_in_threadpool(index_parts)
        return HTMLResponse(
            pages.page(
                "selftaught runs",
                index_head(),
                _INDEX_NAV,
                main,
                kind="runs",
                version=version,
                version_url="/api/version",
                body_url="/body",
            )
        )

    async def index_body(request: Request) -> Response:
        version, main = await run_in_threadpool(index_parts)
        return HTMLResponse(pages.body(index_head(), main, version))

    async def index_version(request: Request) -> Response:
        return JSONResponse({"version": await run_in_threadpool(view.listing_version)})

    def run_version(run_id: str) -> dict[str, Any] | None:
        version = view.version(run_id)
        # `written` lets the page say how long the run has been silent (a killed run stays "running")
        return None if version is None else {"version": version, "written": view.written(run_id)}

    def group_version(group_id: str) -> dict[str, Any] | None:
        version = view.group_version(group_id)
        return None if version is None else {"version": version}

    assets = {
        "report.css": ("text/css; charset=utf-8", stylesheet()),
        "report.js": ("text/javascript; charset=utf-8", PAGE_JS),
        "live.js": ("text/javascript; charset=utf-8", live_js()),
    }

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("not found\n", status_code=404)
        media_type, text = found
        return Response(text, media_type=media_type)

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask; an empty answer keeps the console clean

    app = Starlette(
        routes=[
            Route("/favicon.ico", no_icon),
            Route("/", index),
            Route("/body", index_body),
            Route("/api/version", index_version),
            *live_routes("runs", "run", run_parts, run_version, report_html.RUN_NAV),
            *live_routes("groups", "group", group_parts, group_version, report_html.GROUP_NAV),
            Route("/assets/{name}", asset),
        ]
    )
    return Guard(app, token=token, loopback=loopback)
