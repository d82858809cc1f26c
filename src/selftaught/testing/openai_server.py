"""A small, real OpenAI-compatible HTTP server on loopback, for tests and benchmarks.

It speaks enough of the API for the official SDK (POST /v1/chat/completions with `n` choices and usage
fields, GET /v1/models) and can misbehave on purpose: per-request latency, 429 with Retry-After, 5xx,
hangs, connection resets, empty choices, truncated JSON, refusals, truncated replies and replies without
a code block. Replies come from a scripted queue, a function of the request, or by default the offline
mutation engine (so end-to-end runs through the SDK produce real candidate programs).

Everything it receives is kept in memory only (`server.requests`), never written to disk.

    with OpenAIServer(latency=0.05) as server:
        server.enqueue_faults(Fault.rate_limit(retry_after=0.1))
        client = open_model(f"openai/test-model@{server.base_url}", settings)
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from selftaught.lm.backend import Request, estimate_tokens
from selftaught.lm.offline import OfflineBackend

FaultKind = Literal[
    "delay",
    "status",
    "hang",
    "reset",
    "empty_choices",
    "truncated_json",
    "no_code",
    "refusal",
    "truncated_reply",
]
ReplyFunction = Callable[[dict[str, Any], int], str]  # (request body, choice index) -> reply text
# (request body, 0-based number of the chat request) -> how to misbehave on it, or None to answer
FaultRule = Callable[[dict[str, Any], int], "Fault | None"]
NO_CODE_REPLY = "I believe the current solution is already a good one; I would keep it as it is."


@dataclass(frozen=True)
class Fault:
    """How the server misbehaves on one chat request (faults are consumed in arrival order)."""

    kind: FaultKind
    status: int = 500
    message: str = "injected failure"
    retry_after: float | None = None
    seconds: float = 0.0

    @classmethod
    def rate_limit(cls, retry_after: float | None = 0.05) -> Fault:
        return cls("status", status=429, message="Rate limit reached", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> Fault:
        return cls("status", status=status, message="The server had an error")

    @classmethod
    def error(cls, status: int, message: str) -> Fault:
        return cls("status", status=status, message=message)

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        return cls("hang", seconds=seconds)

    @classmethod
    def reset(cls) -> Fault:
        return cls("reset")

    @classmethod
    def empty_choices(cls) -> Fault:
        return cls("empty_choices")

    @classmethod
    def truncated_json(cls) -> Fault:
        return cls("truncated_json")

    @classmethod
    def no_code(cls) -> Fault:
        return cls("no_code")

    @classmethod
    def refusal(cls) -> Fault:
        return cls("refusal")

    @classmethod
    def truncated_reply(cls) -> Fault:
        return cls("truncated_reply")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as received (headers lower-cased; body parsed as JSON when possible)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float = field(default_factory=time.time)


class OpenAIServer:
    """Threaded HTTP server on 127.0.0.1 (random port unless `port` is given). Use as a context manager."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        reply: ReplyFunction | None = None,
        supports_n: bool = True,
        models: Iterable[str] = ("test-model",),
        api_key: str | None = None,
        offline_seed: int = 0,
        port: int = 0,
        check_model: bool = False,
        fault_rule: FaultRule | None = None,
    ) -> None:
        self.latency = latency
        self.reply = reply
        self.supports_n = supports_n
        self.models = list(models)
        self.api_key = api_key
        self.check_model = check_model  # answer 404 "model not found" for models not in `models`
        # Asked for every chat request the queued faults leave alone: faults on certain prompts only, or
        # from the k-th request on. May be replaced while the server runs.
        self.fault_rule = fault_rule
        self._chats = 0
        self._offline = OfflineBackend(offline_seed)
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._replies: deque[str] = deque()
        self._received: list[ReceivedRequest] = []
        self._ordinals: dict[str, int] = {}
        self._stopping = threading.Event()
        self._in_flight = 0
        self.max_in_flight = 0  # most chat requests answered at once: how tests see concurrency
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="openai-loopback",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue_faults(self, *faults: Fault) -> None:
        """Misbehave on the next chat requests, one fault per request, in order."""
        with self._lock:
            self._faults.extend(faults)

    def enqueue_replies(self, *texts: str) -> None:
        """Answer the next choices with these texts, one per choice, before any other reply source."""
        with self._lock:
            self._replies.extend(texts)

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    @property
    def chat_requests(self) -> list[ReceivedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    # -- used by the handler ------------------------------------------------------------------------

    def _record(self, request: ReceivedRequest) -> Fault | None:
        with self._lock:
            self._received.append(request)
            if not request.path.endswith("/chat/completions"):
                return None
            index, self._chats = self._chats, self._chats + 1
            if self._faults:
                return self._faults.popleft()
            rule = self.fault_rule
        if rule is not None and isinstance(request.body, dict):
            return rule(request.body, index)
        return None

    @contextlib.contextmanager
    def _counting_in_flight(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._stopping.wait(seconds)

    def _texts(self, body: dict[str, Any], count: int) -> list[str]:
        texts: list[str] = []
        with self._lock:
            while self._replies and len(texts) < count:
                texts.append(self._replies.popleft())
        if len(texts) < count and self.reply is not None:
            texts += [self.reply(body, index) for index in range(len(texts), count)]
        if len(texts) < count:
            texts += self._offline_texts(body, count - len(texts))
        return texts

    def _offline_texts(self, body: dict[str, Any], count: int) -> list[str]:
        system, user = _split_messages(body.get("messages", []))
        request = Request("server", system, user, count, float(body.get("temperature", 0.7) or 0.0), 1024)
        with self._lock:
            ordinal = self._ordinals.get(request.key, 0)
            self._ordinals[request.key] = ordinal + 1
        return list(self._offline.answer(dataclasses.replace(request, ordinal=ordinal)).texts)


def _split_messages(messages: list[dict[str, Any]]) -> tuple[str, str]:
    system = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") == "system")
    user = "\n".join(str(m.get("content", "")) for m in messages if m.get("role") != "system")
    return system, user


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm plus delayed ACKs
        # add ~40 ms to every keep-alive response and swamp the latencies tests and benchmarks measure.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def finish(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the connection was reset on purpose
            super().finish()

    def do_GET(self) -> None:
        self.owner._record(ReceivedRequest("GET", self.path, _headers(self), None))
        if self.path.rstrip("/").endswith("/models"):
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "selftaught"}
                for m in self.owner.models
            ]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode("utf-8", "replace")
        fault = self.owner._record(ReceivedRequest("POST", self.path, _headers(self), body))
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})
            return
        if (
            self.owner.api_key is not None
            and self.headers.get("authorization") != f"Bearer {self.owner.api_key}"
        ):
            self._json(
                401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}
            )
            return
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            self._json(400, {"error": {"message": "'messages' is required", "type": "invalid_request_error"}})
            return
        if self.owner.check_model and body.get("model") not in self.owner.models:
            message = f"The model `{body.get('model')}` does not exist or you do not have access to it."
            self._json(404, {"error": {"message": message, "type": "invalid_request_error"}})
            return
        with self.owner._counting_in_flight():
            self.owner._wait(self.owner.latency + (fault.seconds if fault and fault.kind == "delay" else 0.0))
            self._answer(body, fault)

    def _answer(self, body: dict[str, Any], fault: Fault | None) -> None:
        kind = fault.kind if fault else None
        if fault is not None and kind == "status":
            headers = {} if fault.retry_after is None else {"retry-after": f"{fault.retry_after:g}"}
            self._json(fault.status, {"error": {"message": fault.message, "type": "injected"}}, headers)
        elif kind == "hang":
            self.owner._wait(fault.seconds if fault else 30.0)
            self.close_connection = True
        elif kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        else:
            n = int(body.get("n") or 1) if self.owner.supports_n else 1
            payload = self._completion(body, n, kind)
            if kind == "truncated_json":
                self._raw(200, json.dumps(payload).encode()[: len(json.dumps(payload)) // 2])
            else:
                self._json(200, payload)

    def _completion(self, body: dict[str, Any], n: int, kind: str | None) -> dict[str, Any]:
        choices: list[dict[str, Any]] = []
        if kind != "empty_choices":
            texts = [NO_CODE_REPLY] * n if kind == "no_code" else self.owner._texts(body, n)
            for index, text in enumerate(texts):
                message: dict[str, Any] = {"role": "assistant", "content": text}
                reason = "stop"
                if kind == "refusal":
                    message = {"role": "assistant", "content": None, "refusal": "I can't help with that."}
                elif kind == "truncated_reply":
                    message["content"], reason = text[: max(1, len(text) // 2)], "length"
                choices.append(
                    {"index": index, "message": message, "finish_reason": reason, "logprobs": None}
                )
        prompt = "".join(str(m.get("content", "")) for m in body["messages"] if isinstance(m, dict))
        completion_tokens = sum(estimate_tokens(c["message"]["content"] or "") for c in choices)
        return {
            "id": f"chatcmpl-{int(time.time() * 1e6)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "")),
            "choices": choices,
            "usage": {
                "prompt_tokens": estimate_tokens(prompt),
                "completion_tokens": completion_tokens,
                "total_tokens": estimate_tokens(prompt) + completion_tokens,
            },
        }

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(payload).encode(), headers)

    def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _headers(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    return {name.lower(): value for name, value in handler.headers.items()}
