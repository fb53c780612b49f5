"""The three swappable model roles, as Protocols.

Screening and enrolment only talk to these interfaces, so a better detector, embedder or intimate
classifier can replace the defaults (and tests can use doubles) without touching the pipeline.
Images are always RGB ``uint8`` arrays of shape (height, width, 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

RGBImage = NDArray[np.uint8]
Embedding = NDArray[np.float32]


@dataclass(frozen=True)
class DetectedFace:
    """A face found in an image: box (x, y, width, height), 5 landmarks and detector confidence.

    Landmarks are (x, y) pixel positions in the order right eye, left eye, nose tip, right mouth
    corner, left mouth corner (the subject's right/left, i.e. image left/right), as YuNet gives.
    """

    box: tuple[float, float, float, float]
    landmarks: NDArray[np.float32]
    confidence: float


class FaceDetector(Protocol):
    """Finds faces and their 5 landmarks."""

    model_id: str

    def detect(self, image: RGBImage) -> list[DetectedFace]:
        """Every face above the detector's confidence threshold, best first."""
        ...


class FaceEmbedder(Protocol):
    """Turns one detected face into an L2-normalised embedding compared by cosine similarity."""

    model_id: str

    def embed(self, image: RGBImage, face: DetectedFace) -> Embedding:
        """Embedding of ``face`` (aligned from ``image`` by the embedder itself)."""
        ...


class IntimateClassifier(Protocol):
    """Scores how likely an image is intimate/sexual content, from 0 to 1."""

    model_id: str

    def score(self, image: RGBImage) -> float:
        """Probability-like score in [0, 1]."""
        ...
