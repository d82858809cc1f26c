"""Hidden scorer of bin_packing: FunSearch's online bin packing, simulated by the host item by item.

Validation: 5 OR-style instances (capacity 150, 500 integer items uniform in [20, 100]). Test: 5 Weibull
instances (capacity 100, 5,000 items drawn from Weibull(shape 3, scale 45), clipped to [1, 100] and
rounded), as in FunSearch's Weibull 5k set. Instance i comes from seed + i.

The task is interactive (`session`): the host holds the item list and the open bins, and asks the
program `priority(item, bins)` for one item at a time, where `bins` holds the remaining capacities of the
open bins that can take the item. The item goes to the bin with the highest priority (the first on a
tie); when no open bin fits, the host opens a new bin without asking. The program never sees the list,
so it cannot pack offline, and the host counts the bins itself. Score: the L1 lower bound
ceil(total size / capacity) divided by the bins used, in (0, 1]; the excess-bins percentage
100 * (bins - L1) / L1, FunSearch's figure, is reported beside it.
"""

import math

import numpy as np

from selftaught.tasks import Instance, InvalidOutput, Score, describe, real_array

VAL = {"capacity": 150, "items": 500, "low": 20, "high": 100}
TEST = {"capacity": 100, "items": 5000, "shape": 3.0, "scale": 45.0}


def instances(split, seed, count):
    return [_instance(split, seed + i) for i in range(count)]


def _instance(split, seed):
    rng = np.random.default_rng(seed)
    if split == "val":
        items = rng.integers(VAL["low"], VAL["high"] + 1, size=VAL["items"])
        capacity = VAL["capacity"]
    else:
        draws = rng.weibull(TEST["shape"], size=TEST["items"]) * TEST["scale"]
        items = np.clip(draws, 1, TEST["capacity"]).round()
        capacity = TEST["capacity"]
    items = items.astype(np.int64)
    items.setflags(write=False)
    return Instance(args=[capacity, len(items)], hidden=items)


class OnlinePacking:
    """The host's simulation of one instance: open bins, the next item, and every placement checked."""

    def __init__(self, capacity, items):
        self.capacity = int(capacity)
        self.items = items
        self.remaining = np.empty(len(items), dtype=np.int64)  # of the open bins, in opening order
        self.open = 0
        self.next = 0
        self.fits = None  # indices of the open bins that can take the current item

    def first(self):
        return self._advance()

    def answer(self, priorities):
        if self.fits is None:
            raise InvalidOutput("no item is waiting for a bin")
        scores = real_array(priorities, (len(self.fits),), "priorities")
        self._place(int(self.fits[int(np.argmax(scores))]))
        return self._advance()

    def _place(self, bin_index):
        item = int(self.items[self.next])
        if not 0 <= bin_index < self.open or self.remaining[bin_index] < item:
            raise InvalidOutput(f"bin {bin_index} cannot take item {item}")  # unreachable by construction
        self.remaining[bin_index] -= item
        self.next += 1
        self.fits = None

    def _advance(self):
        """Open bins for items no bin can take; the arguments of the next question, or None at the end."""
        while self.next < len(self.items):
            item = int(self.items[self.next])
            fits = np.flatnonzero(self.remaining[: self.open] >= item)
            if len(fits):
                self.fits = fits
                return [item, self.remaining[fits].copy()]
            self.remaining[self.open] = self.capacity - item
            self.open += 1
            self.next += 1
        return None

    @property
    def done(self):
        return self.next == len(self.items)


def session(instance):
    return OnlinePacking(instance.args[0], instance.hidden)


def score(instance, output):
    if not isinstance(output, OnlinePacking) or output.items is not instance.hidden:
        raise InvalidOutput(f"expected the host's packing of this instance, got {describe(output)}")
    if not output.done:
        raise InvalidOutput(f"only {output.next} of {len(output.items)} items were packed")
    used = (output.remaining[: output.open] < output.capacity).sum()
    if used != output.open:
        raise InvalidOutput("an open bin is empty")  # unreachable: a bin opens for an item
    bound = math.ceil(int(output.items.sum()) / output.capacity)
    bins = int(output.open)
    return Score(
        bound / bins,
        {"bins": float(bins), "l1_bound": float(bound), "excess_pct": 100.0 * (bins - bound) / bound},
    )
