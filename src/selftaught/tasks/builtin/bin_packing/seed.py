import numpy as np


def priority(item, bins):
    """Best fit: prefer the bin the item fills most tightly."""
    return -(bins - item)
