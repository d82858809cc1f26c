# ruff: noqa  (test data: run only inside the sandbox, written like LM-generated code)
def algorithm(t, dist):
    """Dynamic programming over (position, last letter) of the reachable partial distances, then backtrack."""
    length = len(t)
    target = dist - sum(a != b for a, b in zip(t, t[1:]))
    reach = [{c: set() for c in "AB"} for _ in range(length)]
    for c in "AB":
        reach[0][c].add(int(c != t[0]))
    for i in range(1, length):
        for c in "AB":
            here = int(c != t[i])
            reach[i][c] = {r + here + int(c != p) for p in "AB" for r in reach[i - 1][p]}
    ends = [c for c in "AB" if target in reach[length - 1][c]]
    if not ends:
        return t
    c, remaining, out = ends[0], target, [ends[0]]
    for i in range(length - 1, 0, -1):
        remaining -= int(c != t[i])
        for p in "AB":
            if remaining - int(c != p) in reach[i - 1][p]:
                remaining -= int(c != p)
                c = p
                break
        out.append(c)
    return "".join(reversed(out))
