# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
import random
import time


def algorithm(formula):
    """WalkSAT with incremental true-literal counts and break-count greedy moves, stopped at 70 ms of CPU (not wall: the same work however busy the machine)."""
    deadline = time.process_time() + 0.07
    n = max(abs(lit) for clause in formula for lit in clause)
    rng = random.Random(0)
    assign = [False] + [rng.random() < 0.5 for _ in range(n)]
    occurs = {}
    for index, clause in enumerate(formula):
        for lit in clause:
            occurs.setdefault(lit, []).append(index)
    count = [sum(assign[abs(lit)] == (lit > 0) for lit in clause) for clause in formula]
    unsat = {i for i, c in enumerate(count) if c == 0}

    def breaks(var):
        true_lit = var if assign[var] else -var
        return sum(1 for j in occurs.get(true_lit, ()) if count[j] == 1)

    step = 0
    while unsat:
        step += 1
        if step % 64 == 0 and time.process_time() > deadline:
            break
        clause = formula[rng.choice(tuple(unsat))]
        if rng.random() < 0.4:
            var = abs(rng.choice(clause))
        else:
            var = min((abs(lit) for lit in clause), key=breaks)
        old_true = var if assign[var] else -var
        assign[var] = not assign[var]
        for j in occurs.get(old_true, ()):
            count[j] -= 1
            if count[j] == 0:
                unsat.add(j)
        for j in occurs.get(-old_true, ()):
            count[j] += 1
            if count[j] == 1:
                unsat.discard(j)
    return assign
