"""Readers keep getting exact answers while writers add, remove and compact."""

from __future__ import annotations

import threading

import numpy as np

from hashwall.index import HammingIndex


def test_concurrent_readers_and_writers() -> None:
    rng = np.random.default_rng(5)
    base = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    stable = base[:1000]
    idx = HammingIndex(delta_limit=64)
    idx.add(np.arange(1000), stable)  # bulk: never removed, must always be found
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            got = idx.search(stable[::50], radius=0, workers=2)
            for k, (ids, _) in enumerate(got):
                if (k * 50) not in ids.tolist():
                    errors.append(f"lost id {k * 50}")

    def writer() -> None:
        for j in range(1000, 3000):
            idx.add([j], base[j : j + 1])
            if j % 3 == 0:
                idx.remove([j])
                if idx.search(base[j : j + 1], radius=0)[0][0].size:
                    errors.append(f"removed id {j} still matched")
            elif idx.search(base[j : j + 1], radius=0)[0][0].tolist() != [j]:
                errors.append(f"added id {j} not visible")
        stop.set()

    threads = [threading.Thread(target=reader) for _ in range(2)] + [
        threading.Thread(target=writer)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    idx.wait_compaction()
    assert not errors, errors[:5]
    ids, hashes = idx.items()
    want = [j for j in range(3000) if j < 1000 or j % 3 != 0]
    assert ids.tolist() == want
    assert np.array_equal(hashes, base[want])
    idx.compact()
    assert len(idx) == len(want) and idx.search(base[1:2], 0)[0][0].tolist() == [1]


def test_parallel_batch_equals_serial() -> None:
    rng = np.random.default_rng(6)
    h = rng.integers(0, 256, (5000, 32), dtype=np.uint8)
    idx = HammingIndex()
    idx.add(np.arange(5000), h)
    q = h[:300].copy()
    q[:, :3] ^= 0x55
    a = idx.search(q, 31)
    b = idx.search(q, 31, workers=4)
    c = idx.search(q, 31, workers=0)
    for x, y, z in zip(a, b, c, strict=True):
        assert x[0].tolist() == y[0].tolist() == z[0].tolist()


def test_numpy_fallback_matches_compiled(monkeypatch: object) -> None:
    """Without the C extension the index still builds the same tables and answers exactly."""
    import pytest

    from hashwall.index import _kernels

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    rng = np.random.default_rng(8)
    h = rng.integers(0, 256, (400, 32), dtype=np.uint8)
    q = h[:20].copy()
    q[:, 5] ^= 0x0F
    fast = HammingIndex(delta_limit=100)
    fast.add(np.arange(400), h)
    monkeypatch.setattr(_kernels, "HAVE_C", False)
    slow = HammingIndex(delta_limit=100)
    slow.add(np.arange(400), h)
    assert np.array_equal(slow._state.snap.slots, fast._state.snap.slots)
    assert np.array_equal(slow._state.snap.overflow, fast._state.snap.overflow)
    slow.add([1000], h[:1])
    slow.remove([3])
    fast.add([1000], h[:1])
    fast.remove([3])
    for a, b in zip(slow.search(q, 40), fast.search(q, 40, method="mih"), strict=True):
        assert a[0].tolist() == b[0].tolist() and a[1].tolist() == b[1].tolist()
