"""Small statistics of the benchmark: percentiles, rates and ratios that stay None when there is nothing to measure."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-th percentile (q in 0..100) of `values`, or None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def per_second(count: int, seconds: float | None) -> float | None:
    """`count` over `seconds`; None when no time passed (one event or none has no rate)."""
    if not seconds or seconds <= 0 or count <= 0:
        return None
    return round(count / seconds, 1)


def ratio(value: float | None, baseline: float | None) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, 3)


def share(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent; None when there was no whole."""
    return None if whole <= 0 else round(100 * part / whole, 3)
