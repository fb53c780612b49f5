"""Property tests: HammingIndex returns exactly the brute-force answer.

Banks are built from a few random bases plus sparse bit flips so that every
radius in 0..63 has real matches at the boundary, and sequences of add / remove /
compact / save+load are interleaved with searches.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashwall.index import HammingIndex


def brute(ids: dict[int, np.ndarray], q: np.ndarray, radius: int) -> list[tuple[int, int]]:
    out = []
    for i, h in ids.items():
        d = int(np.unpackbits(np.bitwise_xor(h, q)).sum())
        if d <= radius:
            out.append((d, i))
    return sorted(out)


def near(rng: np.random.Generator, base: np.ndarray, flips: int) -> np.ndarray:
    h = base.copy()
    bits = rng.choice(base.size * 8, size=min(flips, base.size * 8), replace=False)
    for b in bits:
        h[b // 8] ^= np.uint8(1 << (b % 8))
    return h


def make_hashes(rng: np.random.Generator, n: int, nbytes: int) -> np.ndarray:
    bases = rng.integers(0, 256, (3, nbytes), dtype=np.uint8)
    out = np.empty((n, nbytes), np.uint8)
    for k in range(n):
        flips = int(rng.integers(0, min(70, nbytes * 8)))
        out[k] = (
            near(rng, bases[k % 3], flips)
            if rng.random() < 0.8
            else rng.integers(0, 256, nbytes, dtype=np.uint8)
        )
    return out


def check(idx: HammingIndex, model: dict[int, np.ndarray], rng: np.random.Generator) -> None:
    nbytes = idx.nbytes
    hs = list(model.values())
    qs = [near(rng, hs[int(rng.integers(len(hs)))], int(rng.integers(0, 40))) for _ in hs[:3]]
    qs.append(rng.integers(0, 256, nbytes, dtype=np.uint8))
    q = np.stack(qs)
    radius = int(rng.integers(0, min(64, idx.bits + 1)))
    for method in ("mih", "scan", "auto"):
        got = idx.search(q, radius, method=method)  # type: ignore[arg-type]
        for qi in range(len(q)):
            ids, d = got[qi]
            assert sorted(zip(d.tolist(), ids.tolist(), strict=True)) == list(
                zip(d.tolist(), ids.tolist(), strict=True)
            ), "hits not sorted by (distance, id)"
            want = brute(model, q[qi], radius)
            assert list(zip(d.tolist(), ids.tolist(), strict=True)) == want, (method, radius)
    assert len(idx) == len(model)


ops = st.lists(
    st.tuples(st.sampled_from(["add", "remove", "compact", "reload", "bulk"]), st.integers(1, 12)),
    min_size=1,
    max_size=8,
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    ops=ops,
    bits=st.sampled_from([256, 256, 64, 24]),
    delta_limit=st.sampled_from([4, 40]),
)
def test_matches_brute_force(
    tmp_path: Path, seed: int, ops: list[tuple[str, int]], bits: int, delta_limit: int
) -> None:
    rng = np.random.default_rng(seed)
    nbytes = bits // 8
    idx = HammingIndex(bits, delta_limit=delta_limit)
    model: dict[int, np.ndarray] = {}
    next_id = int(rng.integers(-1000, 1000))
    for op, k in ops:
        if op in ("add", "bulk"):
            k = k * 4 if op == "bulk" else k
            hs = make_hashes(rng, k, nbytes)
            new_ids = np.arange(next_id, next_id + k, dtype=np.int64)
            rng.shuffle(new_ids)
            next_id += k + int(rng.integers(0, 5))
            idx.add(new_ids, hs)
            model.update(zip(new_ids.tolist(), hs, strict=True))
        elif op == "remove" and model:
            keys = list(model)
            gone = rng.choice(keys, size=min(k, len(keys)), replace=False)
            idx.remove(gone)
            for g in gone.tolist():
                del model[g]
        elif op == "compact":
            idx.compact()
        elif op == "reload":
            path = tmp_path / f"idx{seed}.hwi"
            idx.save(path)
            idx = HammingIndex.load(path)
        idx.wait_compaction()
        check(idx, model, rng)


def test_readd_after_remove_and_large_radius() -> None:
    rng = np.random.default_rng(1)
    hs = make_hashes(rng, 300, 32)
    idx = HammingIndex(delta_limit=64)
    idx.add(np.arange(300), hs)
    idx.remove([5, 6])
    idx.add([5], hs[6:7])
    model = {i: hs[i] for i in range(300) if i not in (5, 6)} | {5: hs[6]}
    for radius in (0, 31, 63, 100, 256):
        got = idx.search(hs[:8], radius, method="mih")
        for qi in range(8):
            ids, d = got[qi]
            assert list(zip(d.tolist(), ids.tolist(), strict=True)) == brute(model, hs[qi], radius)
