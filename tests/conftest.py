"""Shared fixtures: Meta's conformance data (when present beside the repo) and synthetic media."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFORMANCE = REPO_ROOT.parent / "shared" / "conformance" / "threatexchange"
#: Debian's Chromium, driven by Playwright without downloading a browser of its own.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium for the browser tests; skips with the reason when it cannot run."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install '.[dev]')"
    )
    if not CHROMIUM.is_file():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def conformance() -> Path:
    """Meta's reference data; tests using it skip in a clone that does not have ../shared."""
    if not (CONFORMANCE / "expected" / "pdq-reference.csv").is_file():
        pytest.skip(
            f"conformance data not found at {CONFORMANCE} (needs ../shared beside the repo)"
        )
    return CONFORMANCE


def textured_rgb(seed: int = 0, size: tuple[int, int] = (320, 240)) -> NDArray[np.uint8]:
    """A smooth, feature-rich synthetic picture: high PDQ quality, unlike pure noise."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy, phase = [*rng.uniform(0.03, 0.12, 2).tolist(), rng.uniform(0, 6.28)]
        wave = np.sin(x * fx + phase) * np.cos(y * fy) + 0.5 * np.sin((x + y) * fx * 0.7)
        blobs = sum(
            np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r**2)) * s
            for cx, cy, r, s in zip(
                rng.uniform(0, width, 24),
                rng.uniform(0, height, 24),
                rng.uniform(4, 30, 24),
                rng.uniform(-1.5, 1.5, 24),
                strict=True,
            )
        )
        channels.append(wave + blobs)
    stacked = np.stack(channels, axis=2)
    stacked = (stacked - stacked.min()) / (stacked.max() - stacked.min()) * 255
    return stacked.astype(np.uint8)


@pytest.fixture
def photo_path(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.fromarray(textured_rgb(1)).save(path)
    return path


@pytest.fixture
def other_photo_path(tmp_path: Path) -> Path:
    path = tmp_path / "other.png"
    Image.fromarray(textured_rgb(2)).save(path)
    return path
