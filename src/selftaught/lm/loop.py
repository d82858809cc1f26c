"""One asyncio event loop on a daemon thread, owned by a client.

The async OpenAI SDK gives cheap concurrency, but its callers (improvers reaching the host through RPC
threads) are synchronous and many. Running every request on one loop owned by the client lets any
thread submit work with `run()` and block on the result, while the loop multiplexes all of them under
one concurrency limit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """A started event loop; `run(coro)` is safe from any thread except the loop's own."""

    def __init__(self, name: str = "selftaught-lm-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("LoopThread.run called from its own loop thread (would deadlock)")
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
