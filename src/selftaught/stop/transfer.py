"""Transfer: evaluate improvers found on one task on other tasks, without further self-improvement.

The paper's transfer table has, per task, the seed algorithm's utility, the seed improver's meta-utility
and the improved improver's. We add every iteration's improver and the standard error over tests.
"""

from __future__ import annotations

from pathlib import Path

from selftaught.errors import UsageError
from selftaught.improvers import load_improver
from selftaught.stop.meta_utility import MetaUtility
from selftaught.stop.scoring import DownstreamScorer
from selftaught.stop.session import Session
from selftaught.store import Context, RunMeta, RunReader, TransferCell, sha256
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


def check_same_protocol(source: str, meta: RunMeta | None, protocol: str) -> None:
    """A run's transfer reuses the improver runs stored under that run's protocol and test seed: scoring
    it under the other protocol would mix the two protocols' numbers in one table."""
    if meta is None:
        return
    run_protocol = (meta.config or {}).get("protocol", "strict")
    if run_protocol != protocol:
        raise UsageError(
            f"run {source} was scored under --protocol {run_protocol}; transfer it with "
            f"--protocol {run_protocol}, or transfer an improver file from its improvers/ folder"
        )


def transfer_improvers(source: str, store: RunReader | None) -> list[tuple[str, str]]:
    """[(label, improver source)]: the seed improver first, then the run's distinct improvers or the file."""
    seed = ("seed improver", load_improver("seed"))
    if store is None:
        return [seed, (Path(source).name, load_improver(source))]
    seen = {sha256(seed[1])}
    improvers = [seed]
    for iteration in store.iterations():
        if iteration.improver_sha in seen:
            continue
        seen.add(iteration.improver_sha)
        program = store.get_program(iteration.improver_sha)
        if program is not None:
            improvers.append((f"t={iteration.t}", program))
    return improvers
