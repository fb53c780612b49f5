"""Fixtures for likeness tests: public-domain/CC0 faces, the real models, and test doubles.

No test uses intimate content. The positive screening path (intimate score above threshold) runs
with :class:`FixedScore`, a double of the intimate-classifier interface.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image

from hashwall.likeness.enrol import enrol_images
from hashwall.likeness.models import (
    DetectedFace,
    FaceModels,
    RGBImage,
    default_face_models,
)
from hashwall.likeness.templates import Template

# The likeness extra is part of the dev extra; an install without it skips these tests instead of
# failing on imports.
_MISSING = [name for name in ("onnxruntime", "cv2", "cryptography") if find_spec(name) is None]
collect_ignore_glob = ["test_*.py"] if _MISSING else []

REPO_ROOT = Path(__file__).resolve().parents[2]
ASTRONAUT = REPO_ROOT / "samples" / "known" / "astronaut.jpg"  # NASA, public domain
ROCKET = REPO_ROOT / "samples" / "known" / "rocket.jpg"  # NASA/SpaceX, public domain, no face
CAMERAMAN = Path(__file__).parent / "data" / "cameraman.png"  # CC0 (skimage camera crop)


def load_rgb(path: Path) -> NDArray[np.uint8]:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8)


class FixedScore:
    """Intimate-classifier double: always returns ``value`` and counts calls."""

    model_id = "fixed-score-test-double"

    def __init__(self, value: float) -> None:
        self.value = value
        self.calls = 0

    def score(self, image: RGBImage) -> float:
        self.calls += 1
        return self.value


class SpyDetector:
    """Wraps a detector and records every call (to prove purpose limitation)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.model_id = getattr(inner, "model_id", "spy")
        self.calls = 0

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        self.calls += 1
        return self.inner.detect(image)  # type: ignore[attr-defined, no-any-return]


@pytest.fixture(scope="session")
def face_models() -> FaceModels:
    return default_face_models()


@pytest.fixture(scope="session")
def astronaut() -> NDArray[np.uint8]:
    return load_rgb(ASTRONAUT)


@pytest.fixture(scope="session")
def cameraman() -> NDArray[np.uint8]:
    return load_rgb(CAMERAMAN)


@pytest.fixture(scope="session")
def astronaut_template(face_models: FaceModels, astronaut: NDArray[np.uint8]) -> Template:
    return enrol_images([("astronaut", astronaut)], face_models)


@pytest.fixture(scope="session")
def cameraman_template(face_models: FaceModels, cameraman: NDArray[np.uint8]) -> Template:
    return enrol_images([("cameraman", cameraman)], face_models)
