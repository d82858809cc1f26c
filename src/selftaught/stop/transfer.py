"""Transfer: evaluate improvers found on one task on other tasks, without further self-improvement.

The paper's transfer table has, per task, the seed algorithm's utility, the seed improver's meta-utility
and the improved improver's. We add every iteration's improver and the standard error over tests.
"""

from __future__ import annotations

from selftaught.stop.meta_utility import MetaUtility
from selftaught.stop.scoring import DownstreamScorer
from selftaught.stop.session import Session
from selftaught.store import Context, TransferCell, sha256
from selftaught.tasks import Task


def transfer_table(
    session: Session,
    scorers: dict[str, DownstreamScorer],
    improvers: list[tuple[str, str]],
    *,
    include_seed_algorithm: bool = True,
) -> list[TransferCell]:
    """One row per (label, task): `improvers` is [(label, source)], evaluated on every task in `scorers`.

    Improver estimates run under the context "transfer <label>", so a resumed or repeated transfer
    reuses the improver runs already stored.
    """
    cells: list[TransferCell] = []
    shas = {label: sha256(source) for label, source in improvers}
    session.progress.stage("transfer", len(scorers) * (len(improvers) + int(include_seed_algorithm)))
    for task_name, scorer in scorers.items():
        task: Task = scorer.task
        if include_seed_algorithm:
            test = scorer.utility(task.seed_algorithm, "test")
            val = scorer.utility(task.seed_algorithm, "val")
            cells.append(TransferCell("seed algorithm", task_name, test, 0.0, 1, mean_val=val))
            session.progress.advance("transfer")
        for label, source in improvers:
            result = MetaUtility(session, scorer, Context.transfer(label)).evaluate(source)
            cells.append(
                TransferCell(
                    label,
                    task_name,
                    result.meta_utility_test,
                    result.stderr_test,
                    len(result.tests),
                    mean_val=result.meta_utility,
                    improver_sha=shas[label],
                )
            )
            session.progress.advance("transfer")
    if session.store is not None:
        for cell in cells:
            session.store.put_transfer(cell)
    return cells
