"""Multi-index hashing plan: how to cut hashes into substrings and how far to probe.

Pigeonhole principle (generalised): cut a b-bit hash into m disjoint substrings
and give substring i a probe threshold t_i (t_i = -1 means "do not probe").  If
d(q, x) <= r and sum(t_i + 1) >= r + 1, then some substring has d_i <= t_i,
because the d_i sum to d <= r.  So probing every bucket within t_i of the
query's substring i, for all i, finds every true match: the search is exact by
construction, and the t_i are a free choice that we make per radius to
minimise expected work.

Cost model (units: one random cache miss): each probe reads an offset pair and
usually a bucket (2 misses), each candidate costs one miss to fetch its hash.
A table of k bits probed to radius t costs P = sum_{j<=t} C(k, j) probes and
P * n / 2^k expected candidates (uniform hashes).  A brute-force scan streams
memory and costs about SCAN_COST per hash in the same units.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from functools import lru_cache

MAX_KEY_BITS = 24  # direct-addressed offsets: 2^24 * 4 B = 64 MiB per table at most
MIN_KEY_BITS = 4
SCAN_COST = 0.03  # streaming one hash vs one random miss (measured, see docs/index.md)
PROBE_COST = 2.0
DESIGN_RADIUS = 31


@dataclass(frozen=True)
class Layout:
    """Bit ranges of the m substrings (each <= 32 bits, contiguous)."""

    starts: tuple[int, ...]
    widths: tuple[int, ...]


def split_bits(bits: int, m: int) -> Layout:
    """Cut `bits` into m contiguous substrings whose widths differ by at most one."""
    base, extra = divmod(bits, m)
    widths = tuple(base + 1 if i < extra else base for i in range(m))
    starts = tuple(sum(widths[:i]) for i in range(m))
    return Layout(starts, widths)


def _probes(k: int, t: int) -> int:
    return sum(math.comb(k, j) for j in range(min(t, k) + 1)) if t >= 0 else 0


@lru_cache(maxsize=4096)
def thresholds(widths: tuple[int, ...], n: int, radius: int) -> tuple[tuple[int, ...], float]:
    """Per-table probe radii with sum(t_i + 1) >= radius + 1 at minimum modelled cost.

    Greedy on marginal cost: the marginal cost C(k, t+1) * (PROBE_COST + n/2^k) grows
    with t while t < k/2, so greedy increments are optimal in that (relevant) regime.
    Returns the thresholds and the modelled cost per query.
    """
    m = len(widths)
    t = [-1] * m
    need = radius + 1
    if need > sum(k + 1 for k in widths):
        raise ValueError(f"radius {radius} exceeds the hash length")

    def step_cost(i: int) -> float:
        k = widths[i]
        return math.comb(k, t[i] + 1) * (PROBE_COST + n / 2.0**k)

    heap = [(step_cost(i), i) for i in range(m)]
    heapq.heapify(heap)
    cost = 0.0
    for _ in range(need):
        c, i = heapq.heappop(heap)
        cost += c
        t[i] += 1
        if t[i] < widths[i]:
            heapq.heappush(heap, (step_cost(i), i))
    return tuple(t), cost


def choose_layout(bits: int, n: int) -> Layout:
    """Pick m so that the modelled cost at the design radius is smallest.

    Key width is capped near log2(n) so offset tables never dwarf the data
    (a 24-bit table for 1,000 hashes would waste 64 MiB).
    """
    kmax = max(MIN_KEY_BITS, min(MAX_KEY_BITS, math.ceil(math.log2(max(n, 2))) + 1))
    radius = min(DESIGN_RADIUS, bits - 1)
    best: tuple[float, Layout] | None = None
    for m in range(max(1, math.ceil(bits / kmax)), bits + 1):
        layout = split_bits(bits, m)
        if min(layout.widths) < MIN_KEY_BITS and m > 1:
            break
        _, cost = thresholds(layout.widths, n, radius)
        if best is None or cost < best[0]:
            best = (cost, layout)
    assert best is not None
    return best[1]


def use_scan(widths: tuple[int, ...], n: int, radius: int) -> bool:
    """True when a brute-force scan is modelled cheaper than MIH probing."""
    if n == 0 or not widths:
        return True
    _, cost = thresholds(widths, n, radius)
    return cost > SCAN_COST * n
