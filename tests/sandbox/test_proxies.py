"""Capability proxies: remote calls round trip, are thread-safe, and tampering is reported, not obeyed."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from selftaught.sandbox import Job, Proxy, SandboxPool

pytestmark = pytest.mark.slow  # end to end: real sandbox jobs

UTILITY = Proxy(
    "utility", attributes={"budget": 3, "str": "def utility(s): ..."}, methods=("score",), callable=True
)
LM = Proxy(
    "language_model",
    attributes={"budget": 4, "max_responses_per_call": 6},
    methods=("prompt", "batch_prompt"),
)


class Host:
    """A host-side rpc handler that keeps its own budget (the child can never touch it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.budget = 1000
        self.in_flight = 0
        self.max_in_flight = 0  # most batch_prompt calls answered at once

    def __call__(self, proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append((proxy, method))
            self.budget -= 1
        if method == "prompt":
            if kwargs.get("fail"):
                raise RuntimeError("You have exceeded your call budget")
            return [f"{args[0]}#{i}" for i in range(kwargs.get("n_responses", 1))]
        if method == "batch_prompt":
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            time.sleep(0.05)
            with self.lock:
                self.in_flight -= 1
            return [m.upper() for m in args[1]]
        if method in ("__call__", "score"):
            return float(len(args[0]))
        raise AssertionError(method)


def test_round_trip_of_methods_calls_and_attributes(pool: SandboxPool) -> None:
    src = (
        "import numpy as np\n"
        "def improve(solution, utility, language_model):\n"
        "    replies = language_model.prompt('hi', n_responses=2)\n"
        "    return {'replies': replies, 'u': utility(solution), 's': utility.score('ab'),\n"
        "            'budget': utility.budget, 'text': utility.str, 'max': language_model.max_responses_per_call}\n"
    )
    host = Host()
    result = pool.run(
        Job(source=src, entry="improve", instances=[["abc", UTILITY, LM]], cpu_bound=False), rpc=host
    )
    out = result.instances[0].output
    assert out == {
        "replies": ["hi#0", "hi#1"],
        "u": 3.0,
        "s": 2.0,
        "budget": 3,
        "text": "def utility(s): ...",
        "max": 6,
    }
    assert sorted(host.calls) == [("language_model", "prompt"), ("utility", "__call__"), ("utility", "score")]


def test_concurrent_calls_from_threads_get_their_own_answers(pool: SandboxPool) -> None:
    src = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def improve(lm):\n"
        "    with ThreadPoolExecutor(12) as ex:\n"
        "        return list(ex.map(lambda i: lm.batch_prompt('x', [f'm{i}', f'n{i}'], 0.7), range(48)))\n"
    )
    host = Host()
    result = pool.run(Job(source=src, entry="improve", instances=[[LM]], cpu_bound=False), rpc=host)
    assert result.instances[0].output == [[f"M{i}", f"N{i}"] for i in range(48)]
    assert host.max_in_flight > 1  # the host answered them concurrently (seen by the host, not by a clock)


def test_tampering_is_reported_and_never_reaches_the_host(pool: SandboxPool) -> None:
    src = (
        "def improve(utility, lm):\n"
        "    out = []\n"
        "    utility.budget = 10**9\n"
        "    utility.use_sandbox = False\n"
        "    for attempt in (lambda: type(lm)(budget=100), lambda: lm.reset_budget(), lambda: utility.__class__.__init__(utility)):\n"
        "        try:\n"
        "            attempt(); out.append('worked')\n"
        "        except Exception as exc:\n"
        "            out.append(type(exc).__name__)\n"
        "    return [out, utility.budget]\n"
    )
    host = Host()
    result = pool.run(Job(source=src, entry="improve", instances=[[UTILITY, LM]], cpu_bound=False), rpc=host)
    out, local_budget = result.instances[0].output
    assert out == ["TypeError", "AttributeError", "TypeError"]
    assert local_budget == 10**9  # the program's own copy changed ...
    assert host.calls == [] and host.budget == 1000  # ... the host's did not
    kinds = [e.kind for e in result.events]
    assert kinds.count("proxy-attribute-write") == 2
    assert "proxy-construct" in kinds and "proxy-missing-attribute" in kinds
    assert any("use_sandbox" in e.detail for e in result.events)


def test_host_exceptions_arrive_with_their_message(pool: SandboxPool) -> None:
    src = (
        "def improve(lm):\n"
        "    try:\n"
        "        lm.prompt('x', fail=True)\n"
        "    except Exception as exc:\n"
        "        return [type(exc).__name__, str(exc)]\n"
    )
    result = pool.run(Job(source=src, entry="improve", instances=[[LM]], cpu_bound=False), rpc=Host())
    assert result.instances[0].output == ["Exception", "You have exceeded your call budget"]


def test_nested_jobs_from_remote_calls_do_not_deadlock(pool: SandboxPool) -> None:
    """An improver's utility call runs cpu-bound jobs on the same (2-worker) pool while it waits."""
    algorithm = "def f(x):\n    return x * 2\n"

    def rpc(proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        inner = pool.run(Job(source=args[0], entry="f", instances=[[np.int64(3)]]))
        return inner.instances[0].output

    improver = (
        "from concurrent.futures import ThreadPoolExecutor\n"
        "def improve(code, utility):\n"
        "    with ThreadPoolExecutor(4) as ex:\n"
        "        return list(ex.map(utility, [code] * 8))\n"
    )
    jobs = [
        Job(source=improver, entry="improve", instances=[[algorithm, UTILITY]], cpu_bound=False)
        for _ in range(4)
    ]
    results: list[Any] = [None] * len(jobs)

    def go(i: int) -> None:
        results[i] = pool.run(jobs[i], rpc=rpc)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None and r.instances[0].output == [6] * 8 for r in results)


def test_unknown_methods_are_refused_host_side(pool: SandboxPool) -> None:
    """A program that forges a raw remote call for a method it was not given is refused by the host."""
    src = (
        "def improve(lm):\n"
        "    channel = lm.prompt._channel\n"
        "    try:\n"
        "        return channel.call('language_model', 'set_budget', (10**9,), {})\n"
        "    except Exception as exc:\n"
        "        return str(exc)\n"
    )
    host = Host()
    result = pool.run(Job(source=src, entry="improve", instances=[[LM]], cpu_bound=False), rpc=host)
    assert "no such method" in result.instances[0].output
    assert host.calls == []
    assert "proxy-unknown-method" in {e.kind for e in result.events}


def test_a_flood_of_forged_remote_calls_is_refused_without_a_thread_each(pool: SandboxPool) -> None:
    src = (
        "import json, os, struct\n"
        "def improve(lm):\n"
        "    body = json.dumps([['x'], {}]).encode()\n"
        "    head = json.dumps({'t': 'rpc', 'req': 0, 'proxy': 'language_model', 'method': 'batch_prompt', 'nb': 1}).encode()\n"
        "    msg = struct.pack('>I', len(head)) + head + struct.pack('>I', len(body)) + body\n"
        "    for _ in range(400):\n"
        "        os.write(4, msg)\n"
        "    return 'sent'\n"
    )

    def slow(proxy: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        time.sleep(0.5)  # every admitted call stays in flight while the flood arrives
        return None

    before = threading.active_count()
    result = pool.run(Job(source=src, entry="improve", instances=[[LM]], cpu_bound=False), rpc=slow)
    assert result.instances[0].output == "sent"
    assert "rpc-flood" in {e.kind for e in result.events}
    assert threading.active_count() - before < 200
