"""Starting the live view: bind, print the address, serve until interrupted; or beside a run.

Why the socket is bound here and handed to uvicorn: the address printed is then the one really
listening (with `--port 0`, the port the system chose), and a port already in use is a one-line error
before anything starts. `beside_run` starts `selftaught serve` as a child process for `run --serve`, so
page rendering never competes with the run for its interpreter, and stops it when the run ends.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from selftaught.errors import UsageError
from selftaught.serve.guard import TOKEN_PARAM, is_loopback, new_token

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
EXTRA_MISSING = "the live view needs the serve extra: pip install 'selftaught[serve]'"
_ADDRESS_PREFIX = "live view: "


def extra_installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("starlette", "uvicorn"))


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); UsageError (exit 2) when the address cannot be used."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host}: cannot resolve ({exc.strerror})") from None
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port, or --port 0)"
        ) from None
    sock.set_inheritable(False)
    return sock


def address(sock: socket.socket, token: str | None) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?{TOKEN_PARAM}={token}" if token else "")


def serve(
    runs_dir: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve the live view of `runs_dir` until interrupted. Off loopback a fresh token guards it."""
    if not extra_installed():
        raise UsageError(EXTRA_MISSING)
    import uvicorn

    from selftaught.serve.app import make_app

    loopback = is_loopback(host)
    token = None if loopback else new_token()
    sock = bind(host, port)
    app = make_app(Path(runs_dir), token=token, loopback=loopback)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    announce(_ADDRESS_PREFIX + address(sock, token))
    if token is not None:
        announce("every request must carry this token (the address above sets it in a cookie)")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


def port_free(host: str, port: int) -> bool:
    try:
        bind(host, port).close()
    except UsageError:
        return False
    return True


@contextlib.contextmanager
def beside_run(
    runs_dir: Path, *, announce: Callable[[str], None] = print, timeout: float = 60.0
) -> Iterator[str | None]:
    """`selftaught serve` in a child process for the duration of a run; announces and yields its address
    (None when it did not start — the child said why on stderr — and the run goes on without it)."""
    port = DEFAULT_PORT if port_free(DEFAULT_HOST, DEFAULT_PORT) else 0
    command = [sys.executable, "-m", "selftaught", "serve", "--runs-dir", str(runs_dir), "--port", str(port)]
    # stderr is the run's own: a child that cannot start says why there, in its one line.
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(child.stdout.readline() if child.stdout else ""))
    reader.daemon = True
    reader.start()
    reader.join(timeout)
    first = lines[0].strip() if lines else ""
    try:
        if first.startswith(_ADDRESS_PREFIX):
            announce(first)
            yield first[len(_ADDRESS_PREFIX) :]
        else:
            announce("live view not started (the run goes on without it)")
            yield None
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
