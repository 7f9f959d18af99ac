"""The secondary drift scores reported next to gitmlops' own verdict: a Hellinger distance between
two numeric columns' histograms and a chi-square test of two categorical columns' frequent items.

They follow whylogs' definitions (so reports read as before): the histogram spans both columns'
[min, max] in up to 30 equal bins (about 4 values per bin for small samples); the chi-square
expectation is the reference's share of each target item, scaled to the target's count, with one
degree of freedom less than the target's distinct values.
"""

from __future__ import annotations

import math
from typing import Any

MAX_BINS = 30
VALUES_PER_BIN = 4


def hellinger(target: Any, reference: Any) -> float | None:
    """Hellinger distance (0 same, 1 disjoint) of two KLL sketches' histograms, or None."""
    import numpy as np

    if target is None or reference is None or target.is_empty() or reference.is_empty():
        return None
    start = min(target.get_min_value(), reference.get_min_value())
    end = max(target.get_max_value(), reference.get_max_value())
    if not (math.isfinite(start) and math.isfinite(end)):
        return None
    end += abs(end) * 1e-7 if end != 0 else 1e-7  # the maximum falls inside the last bin
    bins = max(min(math.ceil((target.n + reference.n) / VALUES_PER_BIN), MAX_BINS), 2)
    edges = np.linspace(start, end, bins + 1)[1:-1].tolist()
    if not edges or len(set(edges)) != len(edges):
        return None
    p = np.asarray(target.get_pmf(edges), dtype=float)
    q = np.asarray(reference.get_pmf(edges), dtype=float)
    return float(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2)) / math.sqrt(2))


def chi_square(target_items: list[tuple[str, float]], target_total: int, target_distinct: float,
               reference_items: list[tuple[str, float]], reference_total: int) -> tuple[float, float] | None:
    """(statistic, p-value) of the target's frequent items against the reference's shares, or None."""
    from scipy import stats

    if target_total <= 0 or reference_total <= 0:
        return None
    reference = dict(reference_items)
    statistic = 0.0
    for value, observed in target_items:
        expected = int(reference.get(value, 0.0) / reference_total * target_total)
        if expected == 0:
            statistic = math.inf
            break
        statistic += (observed - expected) ** 2 / expected
    degrees = max(round(target_distinct) - 1, 1)
    return statistic, float(stats.chi2.sf(statistic, degrees))
