"""Real PDQ hashes from Meta's ThreatExchange test data (skipped if ../shared is absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashwall.index import HammingIndex

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "conformance" / "threatexchange" / "pdq" / "data" / "reg-test-input"


def read_hex(path: Path) -> np.ndarray:
    rows = []
    for line in path.read_text().splitlines():
        tok = line.split(",")[0].split()[0] if line.strip() else ""
        if len(tok) == 64:
            rows.append(np.frombuffer(bytes.fromhex(tok), np.uint8))
    return np.stack(rows)


@pytest.mark.conformance
def test_real_pdq_needles_in_haystack() -> None:
    if not (DATA / "needles.txt").exists():
        pytest.skip(f"conformance data not found at {DATA} (needs the ../shared checkout)")
    needles, hay = read_hex(DATA / "needles.txt"), read_hex(DATA / "haystack.txt")
    idx = HammingIndex()
    idx.add(np.arange(len(hay)), hay)
    for radius in (0, 31, 63):
        got = idx.search(needles, radius, method="mih")
        d = np.unpackbits(needles[:, None, :] ^ hay[None, :, :], axis=2).sum(axis=2)
        for qi, (ids, dist) in enumerate(got):
            want = np.flatnonzero(d[qi] <= radius)
            assert sorted(ids.tolist()) == want.tolist()
            assert dist.tolist() == sorted(d[qi][ids].tolist())
        if radius == 31:
            assert sum(len(i) for i, _ in got) > 0
