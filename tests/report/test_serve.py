"""`selftaught serve` over HTTP: what it answers, what it refuses, and that it never writes a store.

A real uvicorn server on a real socket (in a thread), spoken to with `http.client`, which sends request
paths exactly as written (no client-side `..` clean-up), so traversal attempts reach the server as an
attacker would send them.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from report_fixtures import make_run

from selftaught.serve.guard import (
    CSP,
    host_header_is_loopback,
    is_loopback,
    run_directory,
    valid_run_id,
)
from selftaught.store import RunStore

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

RUN_ID = "20261126-000000-str_grid_dist-s0-abcd"
SECRET = "outside-the-runs-directory-5f1e"


class Server:
    def __init__(self, runs_dir: Path, *, token: str | None = None, loopback: bool = True) -> None:
        import uvicorn

        from selftaught.serve.app import make_app
        from selftaught.serve.server import bind

        self.sock = bind("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        app = make_app(runs_dir, token=token, loopback=loopback)
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self.thread.start()

    def get(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> tuple[int, dict, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read().decode()
        finally:
            connection.close()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    make_run(runs_dir, RUN_ID)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    make_run(tmp_path, "outside-run")  # a real store outside the runs directory
    (tmp_path / "outside-run" / "secret.txt").write_text(SECRET)
    (runs_dir / "linked-out").symlink_to(tmp_path / "outside-run")
    return runs_dir


@pytest.fixture
def server(runs: Path) -> Iterator[Server]:
    started = Server(runs)
    yield started
    started.stop()


def test_pages_answer_with_the_security_headers(server: Server) -> None:
    status, headers, body = server.get("/")
    assert status == 200 and RUN_ID in body
    assert (
        headers["content-security-policy"] == CSP and "script-src 'self'" in CSP and "unsafe-eval" not in CSP
    )
    assert "'unsafe-inline'" not in CSP.split("script-src")[1].split(";")[0]
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer"
    status, _, page = server.get(f"/runs/{RUN_ID}")
    assert status == 200 and '<section id="progress">' in page and "<script>" not in page  # no inline script
    status, _, version = server.get(f"/api/runs/{RUN_ID}/version")
    assert status == 200 and json.loads(version)["version"]
    status, headers, js = server.get("/assets/live.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript") and "DOMParser" in js


@pytest.mark.parametrize(
    "path",
    [
        "/runs/..",
        "/runs/../../outside/secret.txt",
        "/runs/..%2F..%2Foutside%2Fsecret.txt",
        "/runs/%2e%2e",
        "/runs/%2e%2e%2foutside-run",
        "/runs/linked-out",
        "/runs/linked-out/body",
        "/api/runs/linked-out/version",
        f"/runs/{RUN_ID}/../../outside/secret.txt",
        f"/runs/{RUN_ID}/run.sqlite",
        "/assets/../../outside/secret.txt",
        "/assets/..%2f..%2foutside%2fsecret.txt",
        "/groups/..",
        "/runs/.hidden",
        "//etc/passwd",
    ],
)
def test_paths_outside_the_runs_directory_are_refused(server: Server, path: str) -> None:
    status, _, body = server.get(path)
    assert status in (400, 404), (path, status)
    assert SECRET not in body and "str_grid_dist" not in body.replace(RUN_ID, "")  # no store was read


@given(st.text(max_size=40))
def test_run_ids_never_name_anything_but_a_child(name: str) -> None:
    if valid_run_id(name):
        assert "/" not in name and "\\" not in name and ".." not in name and name not in (".", "")


def test_run_directory_resolves_only_direct_children(runs: Path) -> None:
    assert run_directory(runs, RUN_ID) == (runs / RUN_ID).resolve()
    for name in ("linked-out", "..", ".", "", "a/b", "nope"):
        assert run_directory(runs, name) is None


def test_loopback_names() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.0.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.4", "example.org"))
    assert host_header_is_loopback("127.0.0.1:8765") and host_header_is_loopback("[::1]:80")
    assert not host_header_is_loopback("evil.example:8765") and not host_header_is_loopback(None)
    assert not host_header_is_loopback("127.0.0.1.evil.example")


def test_a_foreign_host_header_is_refused_on_loopback(server: Server) -> None:
    """DNS rebinding: a page of another site resolving its name to 127.0.0.1 gets nothing."""
    status, headers, body = server.get("/", headers={"Host": "attacker.example:8765"})
    assert status == 403 and RUN_ID not in body and headers["content-security-policy"] == CSP


def test_only_reads(server: Server, runs: Path) -> None:
    store = runs / RUN_ID / "run.sqlite"
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    for path in ("/", f"/runs/{RUN_ID}", f"/runs/{RUN_ID}/body", f"/api/runs/{RUN_ID}/version"):
        assert server.get(path)[0] == 200
    assert server.get(f"/runs/{RUN_ID}", method="POST")[0] == 405
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before
    written = json.loads(server.get(f"/api/runs/{RUN_ID}/version")[2])["written"]
    wal = store.with_name("run.sqlite-wal")  # a read-only open may leave an empty one: not a write
    assert not wal.exists() or wal.stat().st_size == 0
    assert written == pytest.approx(store.stat().st_mtime)


def test_token_is_required_on_every_request(runs: Path) -> None:
    token = "t0ken-for-the-test"
    server = Server(runs, token=token, loopback=False)
    try:
        for path in ("/", f"/runs/{RUN_ID}", "/assets/live.js", f"/api/runs/{RUN_ID}/version"):
            for headers in ({}, {"Cookie": "selftaught_token=wrong"}, {"Authorization": "Bearer wrong"}):
                status, _, body = server.get(path, headers=headers)
                assert status == 401 and RUN_ID not in body, (path, headers)
            assert server.get(path + "?token=wrong")[0] == 401
            assert server.get(path + "?token=" + token[:-1])[0] == 401
        status, headers, body = server.get(f"/runs/{RUN_ID}?token={token}")
        assert status == 200 and RUN_ID in body
        assert (
            headers["set-cookie"].startswith(f"selftaught_token={token};")
            and "HttpOnly" in headers["set-cookie"]
        )
        assert server.get("/", headers={"Cookie": f"selftaught_token={token}"})[0] == 200
        assert server.get("/", headers={"Authorization": f"Bearer {token}"})[0] == 200
        # off loopback the token is the guard: any Host header is fine once it is given
        assert server.get(f"/?token={token}", headers={"Host": "box.lan:8765"})[0] == 200
    finally:
        server.stop()


def test_help_does_not_import_the_web_stack() -> None:
    code = (
        "import sys\nfrom selftaught.cli import run\nrun(['--help']); run(['serve', '--help'])\n"
        "assert not [m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn')], 'imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "serve" in done.stdout and "--host" in done.stdout


@pytest.mark.parametrize("command", [["serve"], ["run", "--serve"]])
def test_missing_extra_is_one_line_and_exit_2(command: list[str], tmp_path: Path) -> None:
    code = (
        "import sys\nsys.modules['starlette'] = None\nfrom selftaught.cli import run\n"
        f"sys.exit(run({[*command, '--runs-dir', str(tmp_path)]!r}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: the live view needs the serve extra: pip install 'selftaught[serve]'"
    ]
    assert not (tmp_path / "runs").exists() and not any(tmp_path.iterdir())  # the run never started


def test_port_in_use_is_one_line_and_exit_2(runs: Path) -> None:
    from selftaught.serve.server import bind

    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        code = f"import sys\nfrom selftaught.cli import run\nsys.exit(run(['serve', '--runs-dir', {str(runs)!r}, '--port', '{port}']))\n"
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        taken.close()
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_runs_of_one_group_are_listed_together_and_have_a_page(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    group = "group-20261126-000000-str_grid_dist-s0-abcd"
    for seed in (0, 1):
        make_run(runs_dir, f"20261126-00000{seed}-str_grid_dist-s{seed}-abcd", group=group, seed=seed)
    make_run(runs_dir, "20261126-000009-str_grid_dist-s0-solo")
    server = Server(runs_dir)
    try:
        status, _, index = server.get("/")
        assert status == 200
        block = index.split(f'<table id="group-{group}">')[1].split("</table>")[0]
        assert "s0-abcd" in block and "s1-abcd" in block and "s0-solo" not in block  # the solo run is apart
        assert f'href="/groups/{group}"' in index and '<table id="runs-table">' in index
        status, _, page = server.get(f"/groups/{group}")
        assert status == 200 and 'id="aggregate-table"' in page and "s1-abcd" in page
        assert json.loads(server.get(f"/api/groups/{group}/version")[2])["version"]
        assert server.get("/groups/group-nope")[0] == 404
    finally:
        server.stop()


@pytest.mark.slow
def test_run_serve_prints_a_working_address_and_stops_with_the_run(tmp_path: Path) -> None:
    runs_dir = tmp_path / "runs"
    args = [
        "run",
        "--serve",
        "--iterations",
        "1",
        "--tests",
        "1",
        "--estimate-tests",
        "1",
        "--utility-budget",
        "3",
        "--runs-dir",
        str(runs_dir),
    ]
    run = subprocess.Popen(
        [sys.executable, "-m", "selftaught", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(run.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    page = None
    while page is None and run.poll() is None:
        page = next(
            (line.split(": ", 1)[1].strip() for line in list(lines) if line.startswith("live view of run")),
            None,
        )
        threading.Event().wait(0.2)
    assert page is not None, lines
    url = urllib.parse.urlsplit(page)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    connection.request("GET", url.path)
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    assert response.status == 200 and url.path.rsplit("/", 1)[1] in body
    assert run.wait(timeout=1200) == 0, "".join(lines)[-3000:]
    reader.join(timeout=30)
    assert [line for line in lines if line.startswith("live view: http://127.0.0.1:")], lines
    with pytest.raises(OSError):  # the view ended with the run
        http.client.HTTPConnection(url.hostname, url.port, timeout=10).request("GET", "/")


def test_a_committing_run_is_read_again_only_after_a_pause(runs: Path) -> None:
    """Watching a run must not read and redraw it on every commit: at most once per pause."""
    from selftaught.serve.views import MIN_PAUSE, RunsView

    now = [1000.0]
    view = RunsView(runs, clock=lambda: now[0])
    first = view.entry(RUN_ID)
    assert first is not None and first.summary is not None and view.entry(RUN_ID) is first
    store = RunStore.open_existing(runs / RUN_ID / "run.sqlite")
    store.add_event("improver-failed", "a new event")
    store.close()
    assert view.version(RUN_ID) != first.version
    now[0] += MIN_PAUSE / 2
    assert view.entry(RUN_ID) is first  # changed, but read less than a pause ago
    now[0] += max(MIN_PAUSE, 4 * first.cost) + 1
    second = view.entry(RUN_ID)
    assert second is not None and second is not first and second.version == view.version(RUN_ID)
    assert second.summary is not None and second.summary.events[-1].detail == "a new event"


def test_a_plot_is_drawn_again_only_when_its_numbers_change(runs: Path) -> None:
    """The live view redraws a page per commit; plots are reused only for the same picture."""
    import dataclasses

    from selftaught.report import load_run_summary
    from selftaught.report.plots import run_curve_svg, usage_svg

    run = load_run_summary(runs / RUN_ID)
    first = run_curve_svg(run)
    assert run_curve_svg(run) is first and usage_svg(run) is usage_svg(run)
    unrelated = dataclasses.replace(run, events=(), lm_usage=())  # nothing the plots show
    assert run_curve_svg(unrelated) is first
    extra = dataclasses.replace(run.candidates[-1], improver_sha="f" * 64, value_val=0.77, proposed=True, t=1)
    grown = dataclasses.replace(run, candidates=(*run.candidates, extra))
    redrawn = run_curve_svg(grown)
    points = first.split('id="curve-candidate-points"')[1].split("</g>\n   </g>")[0].count("<use ")
    assert redrawn != first
    assert (
        redrawn.split('id="curve-candidate-points"')[1].split("</g>\n   </g>")[0].count("<use ") == points + 1
    )


def test_a_group_page_is_drawn_once_per_version_of_its_runs(tmp_path: Path) -> None:
    from selftaught.serve.views import RunsView

    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    group = "group-20261126-000000-str_grid_dist-s0-abcd"
    members = [
        make_run(runs_dir, f"20261126-00000{s}-str_grid_dist-s{s}-abcd", group=group, seed=s) for s in (0, 1)
    ]
    now = [1000.0]
    view = RunsView(runs_dir, clock=lambda: now[0])
    drawn: list[int] = []

    def render(item: object) -> str:
        drawn.append(len(getattr(item, "runs", ())))
        return f"page {len(drawn)}"

    first = view.group_rendered(group, render)
    assert first is not None and first[2] == "page 1" and view.group_rendered(group, render) == first
    store = RunStore.open_existing(members[1] / "run.sqlite")
    store.add_event("improver-failed", "later")
    store.close()
    assert view.group_rendered(group, render) == first  # read less than a pause ago
    now[0] += 1000
    second = view.group_rendered(group, render)
    assert second is not None and second[2] == "page 2" and second[0] != first[0] and drawn == [2, 2]
    assert view.group_rendered("group-none", render) is None and view.group_rendered("../x", render) is None


@pytest.mark.slow
def test_a_non_loopback_bind_prints_a_token_and_refuses_requests_without_it(runs: Path) -> None:
    """`selftaught serve --host 0.0.0.0`, as a user starts it: the token is in the printed address."""
    from serve_fixtures import ServeProcess

    with ServeProcess(runs, "--host", "0.0.0.0") as server:
        url = urllib.parse.urlsplit(server.url)
        token = urllib.parse.parse_qs(url.query)["token"][0]
        assert url.hostname == "0.0.0.0" and len(token) >= 32

        def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
            connection = http.client.HTTPConnection("127.0.0.1", url.port, timeout=120)
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            answer = response.status, response.read().decode()
            connection.close()
            return answer

        for path in ("/", f"/runs/{RUN_ID}", f"/runs/{RUN_ID}/body", "/assets/live.js"):
            assert get(path)[0] == 401
            assert get(path + "?token=" + token.swapcase())[0] == 401
            assert get(path, {"Cookie": f"selftaught_token={token[:-2]}"})[0] == 401
        status, body = get(f"/runs/{RUN_ID}?token={token}")
        assert status == 200 and RUN_ID in body
        assert get("/runs/..%2F..%2Foutside%2Fsecret.txt?token=" + token)[0] == 404
