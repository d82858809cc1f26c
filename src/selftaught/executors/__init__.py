"""Executors: where sandboxed jobs run (the local zygote pool by default, or a Ray cluster)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from selftaught.errors import UsageError

if TYPE_CHECKING:
    from selftaught.config import Settings
    from selftaught.sandbox.executor import Executor


def make_executor(settings: Settings) -> Executor:
    """The executor the settings ask for; a clear error when it cannot be had."""
    if settings.executor == "local":
        from selftaught.sandbox import SandboxPool

        return SandboxPool(workers=settings.workers, mode=settings.sandbox)
    if settings.executor == "ray":
        try:
            from selftaught.executors.ray_executor import RayExecutor
        except ImportError as exc:
            raise UsageError(
                f"--executor ray needs the ray extra: pip install 'selftaught[ray]' ({exc})"
            ) from None
        return RayExecutor(address=settings.ray_address, workers=settings.workers, mode=settings.sandbox)
    raise UsageError(f"unknown executor {settings.executor!r} (use local or ray)")
