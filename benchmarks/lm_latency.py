"""Latency figures of the language-model client stack against the loopback OpenAI-compatible server.

Prints: wall time of a 6-message batch (distinct and identical messages) at a fixed server latency per
response; wall time of 24 responses under a concurrency limit of 8; per-call overhead of our stack
over the bare SDK at zero server latency; and the latency of a cache hit. Each figure is repeated and
reported as mean ± standard deviation (min-max).

    .venv/bin/python benchmarks/lm_latency.py [--latency 1.0] [--repeats 3] [--calls 200]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

from selftaught.lm import ModelSettings, open_model
from selftaught.testing.openai_server import OpenAIServer

KEY_ENV = "SELFTAUGHT_BENCH_KEY"
SYSTEM = "You are an expert computer science researcher and programmer."
PROGRAM = (
    "def algorithm(x):\n    total = 0\n    for i in range(100):\n        total += x * 0.5\n    return total\n"
)


def message(i: int) -> str:
    return f"Improve the following solution (variant {i}):\n```python\n{PROGRAM}```\n"


def measure(repeats: int, action: Callable[[int], object]) -> list[float]:
    times = []
    for rep in range(repeats):
        started = time.perf_counter()
        action(rep)
        times.append(time.perf_counter() - started)
    return times


def show(label: str, values: list[float], unit: str = "s", scale: float = 1.0) -> None:
    scaled = [v * scale for v in values]
    spread = statistics.stdev(scaled) if len(scaled) > 1 else 0.0
    print(
        f"{label:<58} {statistics.mean(scaled):9.3f} ± {spread:.3f} {unit}"
        f"  (min {min(scaled):.3f}, max {max(scaled):.3f}, n={len(scaled)})"
    )


def bench_batches(latency: float, repeats: int) -> None:
    settings = ModelSettings(api_key_env=KEY_ENV, concurrency=8)
    with (
        OpenAIServer(latency=latency) as server,
        open_model(f"openai/bench@{server.base_url}", settings) as client,
    ):
        client.language_model(budget=1).prompt(SYSTEM, "warm-up")  # open the connection pool

        def distinct(rep: int) -> None:
            client.language_model(budget=1).batch_prompt(SYSTEM, [message(100 * rep + i) for i in range(6)])

        def identical(rep: int) -> None:
            client.language_model(budget=1).batch_prompt(SYSTEM, [message(1000 + rep)] * 6)

        def twenty_four(rep: int) -> None:
            def one(worker: int) -> None:
                msgs = [message(10_000 * (rep + 1) + 10 * worker + i) for i in range(6)]
                client.language_model(budget=1).batch_prompt(SYSTEM, msgs)

            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(one, range(4)))

        def twenty_four_grouped(rep: int) -> None:
            def one(worker: int) -> None:
                client.language_model(budget=1).batch_prompt(
                    SYSTEM, [message(50_000 + 10 * rep + worker)] * 6
                )

            with ThreadPoolExecutor(max_workers=4) as pool:
                list(pool.map(one, range(4)))

        print(f"server latency per response: {latency:g} s; client concurrency limit 8")
        show("6-message batch, 6 distinct messages (6 requests)", measure(repeats, distinct))
        show("6-message batch, identical messages (1 request, n=6)", measure(repeats, identical))
        show("24 responses: 4 threads x 6 distinct (24 requests, limit 8)", measure(repeats, twenty_four))
        show("24 responses: 4 threads x 6 identical (4 requests, n=6)", measure(repeats, twenty_four_grouped))


def bench_overhead(calls: int, repeats: int) -> None:
    with OpenAIServer(latency=0.0) as server:
        sdk = openai.OpenAI(api_key=os.environ[KEY_ENV], base_url=server.base_url, max_retries=0)

        def bare(rep: int) -> None:
            for i in range(calls):
                sdk.chat.completions.create(
                    model="bench",
                    messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": message(i)}],
                    n=1,
                    temperature=0.7,
                    max_tokens=1024,
                )

        settings = ModelSettings(api_key_env=KEY_ENV)
        with open_model(f"openai/bench@{server.base_url}", settings) as client:

            def ours(rep: int) -> None:
                lm = client.language_model(budget=calls, purpose=f"overhead {rep}")
                for i in range(calls):
                    lm.prompt(SYSTEM, message(i))

            bare(-1)
            ours(-1)
            bare_times = measure(repeats, bare)
            our_times = measure(repeats, ours)
        sdk.close()
    per_call = 1000 / calls
    print(f"\nsequential calls at zero server latency ({calls} calls per repeat)")
    show("bare sync SDK, per call", bare_times, "ms", per_call)
    show("selftaught LanguageModel.prompt (async SDK on loop thread)", our_times, "ms", per_call)
    overhead = [ours - bare for ours, bare in zip(our_times, bare_times, strict=True)]
    show("client-stack overhead per call (ours - bare)", overhead, "ms", per_call)


def bench_cache(calls: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache.sqlite"
        with OpenAIServer(latency=0.0) as server:
            spec = f"openai/bench@{server.base_url}"
            with open_model(spec, ModelSettings(api_key_env=KEY_ENV, cache_path=cache)) as client:
                lm = client.language_model(budget=calls, purpose="cache")
                for i in range(calls):
                    lm.prompt(SYSTEM, message(i))
            replay = ModelSettings(api_key_env=KEY_ENV, cache_path=cache, cache_mode="replay")

            def hits(rep: int) -> None:
                with open_model(spec, replay) as client:
                    lm = client.language_model(budget=calls, purpose="cache")
                    for i in range(calls):
                        lm.prompt(SYSTEM, message(i))

            times = measure(repeats, hits)
        with open_model("offline:0") as client:
            lm = client.language_model(budget=calls)
            offline = measure(
                repeats,
                lambda rep: [lm.prompt(SYSTEM, message(i + rep * calls)) for i in range(calls // repeats)],
            )
    print(f"\ncache ({calls} replayed calls per repeat, new client each repeat)")
    show("cache hit, per call (replay mode, SQLite WAL)", times, "ms", 1000 / calls)
    show("offline model, uncached, per call (mutation engine)", offline, "ms", 1000 / (calls // repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    os.environ.setdefault(KEY_ENV, "sk-bench-not-a-real-key")
    bench_batches(args.latency, args.repeats)
    bench_overhead(args.calls, max(args.repeats, 3))
    bench_cache(args.calls, max(args.repeats, 3))


if __name__ == "__main__":
    main()
