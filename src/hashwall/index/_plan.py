"""Multi-index hashing plan: how to cut hashes into substrings and how far to probe.

Pigeonhole principle (generalised): cut a b-bit hash into m disjoint substrings
and give substring i a probe threshold t_i (t_i = -1 means "do not probe").  If
d(q, x) <= r and sum(t_i + 1) >= r + 1, then some substring has d_i <= t_i,
because the d_i sum to d <= r.  So probing every bucket within t_i of the
query's substring i, for all i, finds every true match: the search is exact by
construction, and the t_i are a free choice that we make per radius to
minimise expected work.

Cost model (units: one random cache-line fetch; the kernel is bound by how many
of those it can keep in flight, ~18 ns each on the reference machine): a probe
reads one 4-byte slot (16 per line; probes sorted so that neighbours share a
line, so ~LINE_SHARE lines per probe), plus an overflow line when the bucket
holds >= 2 rows (probability 1 - e^-l (1 + l), l = n / 2^k); each candidate
costs one line for its hash.  A table of k bits probed to radius t costs
P = sum_{j<=t} C(k, j) probes and P * l expected candidates (uniform hashes).
A brute-force scan streams memory and costs about SCAN_COST per hash.

Widths need not be equal: at 10M the best layout found by `choose_layout` is seven
24-bit and three 23-bit tables probed to radius 2 plus one 19-bit table probed
to radius 1 (5.2k modelled lines per query vs 5.6k for eleven 23/24-bit tables).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from functools import lru_cache

MAX_KEY_BITS = 24  # direct-addressed offsets: 2^24 * 4 B = 64 MiB per table at most
MIN_KEY_BITS = 4
SCAN_COST = 0.03  # streaming one hash vs one random miss (measured, see docs/index.md)
LINE_SHARE = 0.7  # slot lines per probe (measured: 2,000 distinct lines for 2,866 probes)
DESIGN_RADIUS = 31
SLOT_BYTES_PER_HASH = 56  # cap on slot memory (4 B * 2^k per table) per indexed hash


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


def probe_cost(k: int, n: int) -> float:
    """Modelled cache lines per probe of a k-bit table over n hashes (slot, overflow, hashes)."""
    lam = n / 2.0**k
    return LINE_SHARE + (1.0 - math.exp(-lam) * (1.0 + lam)) + lam


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
        return math.comb(k, t[i] + 1) * probe_cost(k, n)

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


def _layouts(bits: int, kmax: int) -> list[Layout]:
    """Candidate layouts: m near-equal substrings of at most kmax bits, optionally with
    one narrower substring (cheap to probe to a low radius) and the rest widened."""
    out = []
    for m in range(max(1, math.ceil(bits / kmax)), bits + 1):
        even = split_bits(bits, m)
        if min(even.widths) < MIN_KEY_BITS and m > 1:
            break
        out.append(even)
        if m < 2:
            continue
        for narrow in range(MIN_KEY_BITS, min(even.widths)):
            rest = bits - narrow
            if math.ceil(rest / (m - 1)) > kmax:
                continue
            wide = split_bits(rest, m - 1).widths
            widths = (*wide, narrow)
            starts = tuple(sum(widths[:i]) for i in range(m))
            out.append(Layout(starts, widths))
    return out


def choose_layout(bits: int, n: int) -> Layout:
    """Pick the layout whose modelled cost at the design radius is smallest.

    Key width is capped near log2(n) so slot tables never dwarf the data (a 24-bit
    table for 1,000 hashes would waste 64 MiB), and total slot memory is capped at
    SLOT_BYTES_PER_HASH per hash.
    """
    kmax = max(MIN_KEY_BITS, min(MAX_KEY_BITS, math.ceil(math.log2(max(n, 2))) + 1))
    radius = min(DESIGN_RADIUS, bits - 1)
    budget = max(SLOT_BYTES_PER_HASH * n, 4 << kmax)
    best: tuple[float, Layout] | None = None
    for layout in _layouts(bits, kmax):
        if sum(4 << k for k in layout.widths) > budget and best is not None:
            continue
        _, cost = thresholds(layout.widths, n, radius)
        if best is None or cost < best[0]:
            best = (cost, layout)
    assert best is not None
    return best[1]


def slot_shifts(widths: tuple[int, ...], n: int) -> tuple[int, ...]:
    """Per table, 1 to give each bucket two slots (bucket key -> slot key << 1), else 0.

    Rows of multi-row buckets live in free slots of their own 64-byte line when they
    fit, so a probe needs no second cache miss; at ~1 row per bucket a line of 16
    one-slot buckets is too full for that, with two slots per bucket it rarely is.
    Costs 4 B * 2^k more per widened table, so only tables with 0.75 <= n / 2^k <= 2.5
    and k < MAX_KEY_BITS are widened.
    """
    return tuple(1 if 0.75 <= n / 2.0**k <= 2.5 and k < MAX_KEY_BITS else 0 for k in widths)


def use_scan(widths: tuple[int, ...], n: int, radius: int) -> bool:
    """True when a brute-force scan is modelled cheaper than MIH probing."""
    if n == 0 or not widths:
        return True
    _, cost = thresholds(widths, n, radius)
    return cost > SCAN_COST * n
