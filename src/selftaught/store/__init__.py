"""The run store owns the run: its files (`RunDir`), its records and every SQL statement about it.

Writers use `RunStore` (creates or migrates the file); observers use `RunReader.open` (read-only).
"""

from selftaught.store.db import RunStore, sha256
from selftaught.store.reader import RunReader
from selftaught.store.records import (
    Context,
    EvaluationRecord,
    EventRecord,
    ImproverRunRecord,
    IterationRecord,
    IterationUsage,
    LmCallRecord,
    MetaUtilityRecord,
    RunMeta,
    RunStatus,
    StoredEvaluation,
    TransferCell,
    UtilityCallRecord,
)
from selftaught.store.rundir import STORE_FILE, RunDir, new_run_id

__all__ = [
    "STORE_FILE",
    "Context",
    "EvaluationRecord",
    "EventRecord",
    "ImproverRunRecord",
    "IterationRecord",
    "IterationUsage",
    "LmCallRecord",
    "MetaUtilityRecord",
    "RunDir",
    "RunMeta",
    "RunReader",
    "RunStatus",
    "RunStore",
    "StoredEvaluation",
    "TransferCell",
    "UtilityCallRecord",
    "new_run_id",
    "sha256",
]
