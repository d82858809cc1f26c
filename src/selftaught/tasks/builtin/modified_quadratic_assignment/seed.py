import math
import random


def algorithm(F, D, P):
    """Simulated annealing over pairwise swaps: 1000 iterations, temperature 1.0 cooled by 0.99 a step."""
    n = len(F)
    lambda_value = 0.5

    def cost(a):
        total = 0.0
        for i in range(n):
            for j in range(n):
                total += F[i, j] * D[a[i], a[j]]
        return total - lambda_value * sum(P[i, a[i]] for i in range(n))

    current = list(range(n))
    current_cost = cost(current)
    best, best_cost = current[:], current_cost
    temperature = 1.0
    for _ in range(1000):
        temperature *= 0.99
        i, j = random.sample(range(n), 2)
        candidate = current[:]
        candidate[i], candidate[j] = candidate[j], candidate[i]
        candidate_cost = cost(candidate)
        delta = candidate_cost - current_cost
        if delta < 0 or random.random() < math.exp(-delta / temperature):
            current, current_cost = candidate, candidate_cost
            if current_cost < best_cost:
                best, best_cost = current[:], current_cost
    return best
