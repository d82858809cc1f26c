"""Running untrusted, generated Python safely and quickly.

`SandboxPool` (an `Executor`) runs `Job`s in confined children of pre-started zygotes; `check_layers`
reports which isolation layers this machine offers (used by `selftaught doctor` and the strong-mode gate).
"""

from selftaught.sandbox.job import InstanceResult, Job, JobResult, Proxy, SandboxEvent
from selftaught.sandbox.layers import LayerStatus, check_layers
from selftaught.sandbox.pool import SandboxPool

__all__ = [
    "InstanceResult",
    "Job",
    "JobResult",
    "LayerStatus",
    "Proxy",
    "SandboxEvent",
    "SandboxPool",
    "check_layers",
]
