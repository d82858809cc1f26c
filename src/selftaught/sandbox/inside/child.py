"""The confined child: define the program, answer instances one at a time, relay proxy calls.

Runs after `confine.confine` in a fork of the zygote. It talks only to its zygote over fds 3 (in) and 4
(out). It never sees instance i+1 before it answered instance i, and it never measures its own time.
Proxies (`utility`, `language_model`) are objects whose methods are remote calls answered by the host;
they are thread-safe (request ids; one reader thread routes the answers). An audit hook reports, but does
not enforce, suspicious attempts (the OS layers enforce) as events for the safety analysis.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import socket
import sys
import threading
import traceback
import types
from queue import Empty, Queue
from typing import Any, NoReturn

import frames
import numpy
import wire

CTRL_IN, CTRL_OUT = 3, 4
MAX_EVENTS = 64
ERROR_CHARS = 2000
# Sockets to a peer child the zygote linked to this one (`brood.link_peer`), in the order they came.
_PEERS: Queue[int] = Queue()


def take_peer(timeout: float | None = 0.0) -> int | None:
    """The next socket the zygote passed to a peer child (an OpenEvolve evaluator's to its candidate's
    process, and back), waiting up to `timeout` seconds; None if none came."""
    try:
        return _PEERS.get(timeout=timeout) if timeout else _PEERS.get_nowait()
    except Empty:
        return None


class Channel:
    """The child's end of its pipe to the zygote; `send` is safe from any thread."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._wlock = threading.RLock()
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[threading.Event, list[Any]]] = {}
        self._calls: Queue[tuple[dict[str, Any], list[bytes]] | None] | None = None

    def send(self, header: dict[str, Any], bodies: list[bytes] = ()) -> None:  # type: ignore[assignment]
        data = frames.pack_message(header, bodies)
        with self._wlock:
            frames.write_all(CTRL_OUT, data)

    def start_reader(self) -> None:
        """Route zygote messages from a thread, so proxy calls may block in several threads at once."""
        self._calls = Queue()
        threading.Thread(target=self._read_loop, name="sandbox-reader", daemon=True).start()

    def read(self) -> tuple[dict[str, Any], list[bytes]]:
        """One message from the zygote; a call brings its shared input files as descriptors after it."""
        while True:
            header, bodies = frames.read_message(CTRL_IN, self.cap)
            names = header.get("fds") if header.get("t") in ("call", "peer") else None
            if isinstance(names, list) and names:
                with socket.socket(fileno=CTRL_IN) as sock:
                    try:
                        _, fds, _, _ = socket.recv_fds(sock, 1, len(names))
                    finally:
                        sock.detach()
                header["opened"] = dict(zip(names, fds, strict=False))
            if header.get("t") != "peer":
                return header, bodies
            for fd in header.get("opened", {}).values():
                _PEERS.put(fd)

    def _read_loop(self) -> None:
        assert self._calls is not None
        try:
            while True:
                header, bodies = self.read()
                if header.get("t") == "rpc_result":
                    slot = self._pending.get(header.get("req", -1))
                    if slot is not None:
                        slot[1].append((header, bodies))
                        slot[0].set()
                else:
                    self._calls.put((header, bodies))
        except (EOFError, OSError, wire.WireError):
            self._calls.put(None)
            for event, box in list(self._pending.values()):
                box.append(({"error": "sandbox connection closed"}, []))
                event.set()

    def next_call(self) -> tuple[dict[str, Any], list[bytes]] | None:
        """The next message that is not an rpc answer (None when the zygote hung up)."""
        if self._calls is not None:
            return self._calls.get()
        try:
            return self.read()
        except (EOFError, OSError, wire.WireError):
            return None

    def call(self, proxy: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A remote call answered by the host; raises Exception(message) if the host handler raised."""
        body = wire.dumps([list(args), kwargs])
        req = next(self._ids)
        event = threading.Event()
        box: list[Any] = []
        self._pending[req] = (event, box)
        try:
            self.send({"t": "rpc", "req": req, "proxy": proxy, "method": method}, [body])
            event.wait()
        finally:
            self._pending.pop(req, None)
        header, bodies = box[0]
        if "error" in header:
            raise Exception(str(header["error"]))
        return wire.loads(bodies[0]) if bodies else None


class Reporter:
    """Sends deduplicated, capped `SandboxEvent`s to the zygote."""

    def __init__(self, channel: Channel) -> None:
        self._channel = channel
        self._seen: set[tuple[str, str]] = set()

    def __call__(self, kind: str, detail: str) -> None:
        key = (kind, detail[:200])
        if key in self._seen or len(self._seen) >= MAX_EVENTS:
            return
        self._seen.add(key)
        with contextlib.suppress(OSError):
            self._channel.send({"t": "event", "kind": kind, "detail": detail[:500]})


def make_proxy_class(channel: Channel, report: Reporter) -> type:
    """The class of every proxy object; constructing one from generated code fails and is reported."""

    class CapabilityProxy:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            report("proxy-construct", f"{type(self).__name__}(...) called by the program")
            raise TypeError("capability proxies cannot be created by the program")

        def __getattr__(self, name: str) -> Any:
            spec = object.__getattribute__(self, "_spec")
            if name in spec["methods"]:
                return _RemoteMethod(channel, spec["name"], name)
            if name in spec.get("live", ()):
                return channel.call(spec["name"], "__getattr__", (name,), {})
            report("proxy-missing-attribute", f"{spec['name']}.{name}")
            raise AttributeError(f"{spec['name']!r} has no attribute {name!r}")

        def __setattr__(self, name: str, value: Any) -> None:
            spec = object.__getattribute__(self, "_spec")
            report("proxy-attribute-write", f"{spec['name']}.{name} = {value!r}"[:300])
            object.__setattr__(self, name, value)  # the program's copy only; the host never sees it

        def __delattr__(self, name: str) -> None:
            spec = object.__getattribute__(self, "_spec")
            report("proxy-attribute-write", f"del {spec['name']}.{name}")
            object.__delattr__(self, name)

        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            spec = object.__getattribute__(self, "_spec")
            if not spec.get("callable"):
                report("proxy-missing-attribute", f"{spec['name']}(...)")
                raise TypeError(f"{spec['name']!r} is not callable")
            return channel.call(spec["name"], "__call__", args, kwargs)

        def __repr__(self) -> str:
            return f"<proxy {object.__getattribute__(self, '_spec')['name']}>"

    return CapabilityProxy


class _RemoteMethod:
    __slots__ = ("_channel", "_method", "_proxy")

    def __init__(self, channel: Channel, proxy: str, method: str) -> None:
        self._channel, self._proxy, self._method = channel, proxy, method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.call(self._proxy, self._method, args, kwargs)


def build_proxies(specs: list[dict[str, Any]], channel: Channel, report: Reporter) -> dict[str, Any]:
    """One proxy object per spec, with its read-only attributes set as plain instance values."""
    cls = make_proxy_class(channel, report)
    proxies = {}
    for spec in specs:
        obj: Any = object.__new__(cls)
        object.__setattr__(obj, "_spec", spec)
        for key, value in wire.decode(spec.get("attributes", {})).items():
            object.__setattr__(obj, key, value)
        proxies[spec["name"]] = obj
    return proxies


_AUDITED = {
    "subprocess.Popen": "process-spawn",
    "os.system": "process-spawn",
    "os.exec": "process-spawn",
    "os.posix_spawn": "process-spawn",
    "os.spawn": "process-spawn",
    "os.fork": "process-spawn",
    "os.forkpty": "process-spawn",
    "pty.spawn": "process-spawn",
    "socket.__new__": "network",
    "socket.connect": "network",
    "socket.bind": "network",
    "socket.getaddrinfo": "network",
    "ctypes.dlopen": "ctypes",
    "ctypes.dlsym": "ctypes",
    "ctypes.cdata": "ctypes",
    "sys._current_frames": "introspection",
    "gc.get_objects": "introspection",
    "gc.get_referrers": "introspection",
    "gc.get_referents": "introspection",
    "os.kill": "signal",
    "os.killpg": "signal",
    "signal.pthread_kill": "signal",
    "resource.setrlimit": "rlimit",
    "resource.prlimit": "rlimit",
}


def install_audit_hook(report: Reporter, scratch: str, readable: list[str]) -> None:
    """Report suspicious operations as events (telemetry; the kernel layers are what stop them)."""
    local = threading.local()
    readable_roots = (*tuple(readable), scratch, "/dev/null", "/dev/urandom")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        kind = _AUDITED.get(event)
        if kind is None and event != "open":
            return
        if getattr(local, "busy", False):
            return
        local.busy = True
        try:
            if kind is not None:
                report(kind, f"{event} {_brief(args)}")
                return
            path, mode = args[0], args[1] if len(args) > 1 else "r"
            if not isinstance(path, str):
                return
            full = os.path.abspath(path)
            writing = isinstance(mode, str) and any(c in mode for c in "wax+")
            if writing and not full.startswith(scratch):
                report("file-write-outside-scratch", full)
            elif not full.startswith(readable_roots):
                report("file-read-outside-allowlist", full)
        finally:
            local.busy = False

    sys.addaudithook(hook)


def _brief(args: tuple[Any, ...]) -> str:
    try:
        return repr(args)[:200]
    except Exception:
        return "<unprintable>"


def _error_text(exc: BaseException) -> str:
    return f"exception: {type(exc).__name__}: {exc}"[:ERROR_CHARS]


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def serve(
    source: str,
    entry: str,
    proxy_specs: list[dict[str, Any]],
    shared_dir: str | None,
    scratch: str,
    readable: list[str],
    cap: int,
    seed: int | None = None,
) -> NoReturn:
    """Define the program and answer `call` messages until the zygote hangs up; never returns.

    `seed` (derived by the host, never a split's raw seed) seeds `random` and numpy before the source
    runs; each call may carry its own instance seed (`s`), so a randomised program gives the same answer
    for an instance however the instances were split across children.
    """
    channel = Channel(cap)
    report = Reporter(channel)
    # Like a fresh process: Python reseeds `random` at fork, numpy's global generator must be reseeded
    # by hand or every child would replay the zygote's stream.
    _seed(seed if isinstance(seed, int) else int.from_bytes(os.urandom(8), "little"))
    install_audit_hook(report, scratch, readable)
    proxies = build_proxies(proxy_specs, channel, report)
    if proxies:
        channel.start_reader()
    module = types.ModuleType("program")
    module.__file__ = os.path.join(scratch, "program.py")
    sys.modules["program"] = module
    try:
        exec(compile(source, "program.py", "exec"), module.__dict__)
        func = getattr(module, entry, None)
        if not callable(func):
            raise NameError(f"the program does not define a function {entry!r}")
    except BaseException as exc:
        traceback.print_exc()
        _flush()
        channel.send({"t": "setup_error", "msg": _error_text(exc)})
        os._exit(0)
    _flush()
    channel.send({"t": "ready"})
    while True:
        message = channel.next_call()
        if message is None or message[0].get("t") != "call":
            _flush()
            os._exit(0)
        instance_seed = message[0].get("s")
        if type(instance_seed) is int:
            _seed(instance_seed)
        opened: dict[str, int] = message[0].get("opened", {})
        try:
            _answer(channel, func, message[0].get("n"), message[1][0], opened.__getitem__, proxies)
        finally:
            for fd in opened.values():
                with contextlib.suppress(OSError):
                    os.close(fd)


def _seed(value: int) -> None:
    random.seed(value)
    numpy.random.seed(value & 0xFFFFFFFF)


def _answer(
    channel: Channel, func: Any, nonce: Any, body: bytes, shared: wire.Shared, proxies: dict[str, Any]
) -> None:
    """Call the program on one instance and send its result, echoing the call's nonce."""
    try:
        args = wire.loads(body, shared, proxies.__getitem__)
        output = func(*args)
    except BaseException as exc:
        traceback.print_exc()
        _flush()
        channel.send({"t": "error", "n": nonce, "msg": _error_text(exc)})
        return
    try:
        payload = wire.dumps(output)
    except wire.Unserializable as exc:
        _flush()
        channel.send({"t": "error", "n": nonce, "msg": str(exc)})
        return
    _flush()
    if len(payload) > channel.cap - 1024:
        channel.send(
            {"t": "error", "n": nonce, "msg": f"output too large: {len(payload)} bytes (cap {channel.cap})"}
        )
        return
    channel.send({"t": "result", "n": nonce}, [payload])
