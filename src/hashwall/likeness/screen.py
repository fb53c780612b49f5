"""Screening: intimate score first; faces are detected and compared only in intimate content.

Purpose limitation is structural, not a flag: :meth:`Screener.screen_image` returns before the
face detector is touched when the intimate score is below the threshold, and the face models are
not even loaded until the first intimate image. Nothing about faces in ordinary content is
computed, compared or stored. A match is evidence for human review ("intimate content showing
enrolled person X"), never an automatic verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hashwall.likeness.errors import TemplateError
from hashwall.likeness.matching import DEFAULT_THRESHOLD, best_scores
from hashwall.likeness.models import (
    DetectedFace,
    FaceModels,
    IntimateClassifier,
    RGBImage,
    default_face_models,
    default_intimate_classifier,
)
from hashwall.likeness.templates import Template
from hashwall.media import ContentKind, iter_video_frames, load_photo, sniff_kind

# Yahoo's guidance for Open-NSFW: below 0.2 is safe, above 0.8 is unsafe. Screening uses the middle
# of the ambiguous band: missing a deepfake is worse than comparing faces in a borderline image,
# but a low bar would compare faces in much ordinary content, which purpose limitation forbids.
DEFAULT_INTIMATE_THRESHOLD = 0.5
VIDEO_SECONDS_PER_SAMPLE = 1.0
MAX_VIDEO_SAMPLES = 3600
# Detector confidence above which a face is taken as upright without trying quarter turns.
UPRIGHT_CONFIDENCE = 0.9


@dataclass(frozen=True)
class FaceMatch:
    """An enrolled person found in intimate content.

    ``box`` is in the image as turned by ``rotation`` degrees counter-clockwise (0 unless the
    faces were only found after turning a sideways or upside-down upload).
    """

    template_id: str
    similarity: float
    box: tuple[int, int, int, int]
    frame: int | None = None
    timestamp: float | None = None
    rotation: int = 0

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form; frame fields only for videos."""
        record: dict[str, Any] = {
            "template_id": self.template_id,
            "similarity": round(self.similarity, 4),
            "box": list(self.box),
        }
        if self.rotation:
            record["rotation"] = self.rotation
        if self.frame is not None:
            record["frame"] = self.frame
            record["timestamp"] = self.timestamp
        return record


@dataclass
class ScreenResult:
    """What screening found in one image or video."""

    intimate_score: float
    intimate: bool
    faces_compared: int = 0
    matches: list[FaceMatch] = field(default_factory=list)
    frames_screened: int = 1

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (no embeddings, no face data beyond boxes of matched faces)."""
        return {
            "intimate_score": round(self.intimate_score, 4),
            "intimate": self.intimate,
            "frames_screened": self.frames_screened,
            "faces_compared": self.faces_compared,
            "matches": [match.to_json() for match in self.matches],
        }


class Screener:
    """Screens images and videos against enrolled templates.

    ``face_models`` may be a :class:`FaceModels` or a zero-argument factory; the default factory
    loads YuNet + SFace on first use, i.e. only once intimate content has been seen.
    """

    def __init__(
        self,
        templates: Sequence[Template],
        *,
        classifier: IntimateClassifier | None = None,
        face_models: FaceModels | Callable[[], FaceModels] = default_face_models,
        threshold: float = DEFAULT_THRESHOLD,
        intimate_threshold: float = DEFAULT_INTIMATE_THRESHOLD,
    ) -> None:
        self._templates = list(templates)
        self._matrices = [template.embeddings for template in self._templates]
        self._classifier = classifier or default_intimate_classifier()
        self._face_models = face_models
        self.threshold = threshold
        self.intimate_threshold = intimate_threshold
        self._checked_models = False

    def _faces(self) -> FaceModels:
        if not isinstance(self._face_models, FaceModels):
            self._face_models = self._face_models()
        if not self._checked_models:
            expected = self._face_models.embedder.model_id
            for template in self._templates:
                if template.model_id != expected:
                    raise TemplateError(
                        f"template {template.template_id} was made with {template.model_id}, "
                        f"but this hashwall embeds faces with {expected}; enrol again"
                    )
            self._checked_models = True
        return self._face_models

    def screen_image(
        self, image: RGBImage, *, frame: int | None = None, timestamp: float | None = None
    ) -> ScreenResult:
        """Score ``image``; only if intimate, detect faces and compare them with the templates."""
        score = self._classifier.score(image)
        if score < self.intimate_threshold:
            return ScreenResult(score, intimate=False)
        result = ScreenResult(score, intimate=True)
        if not self._templates:
            return result
        models = self._faces()
        rotation, view, faces = _detect_in_any_orientation(models, image)
        for face in faces:
            embedding = models.embedder.embed(view, face)
            result.faces_compared += 1
            for hit in best_scores(embedding, self._matrices):
                if hit.similarity >= self.threshold:
                    x, y, w, h = (round(v) for v in face.box)
                    template_id = self._templates[hit.template_index].template_id
                    result.matches.append(
                        FaceMatch(
                            template_id, hit.similarity, (x, y, w, h), frame, timestamp, rotation
                        )
                    )
        result.matches.sort(key=lambda match: match.similarity, reverse=True)
        return result

    def screen_path(self, path: Path) -> tuple[ContentKind, ScreenResult]:
        """Screen a photo or a video file (videos: one frame per second, at most an hour).

        Raises :class:`hashwall.media.MediaError` for unreadable files.
        """
        kind = sniff_kind(path)
        if kind is ContentKind.PHOTO:
            photo = load_photo(path)
            if photo.frame_count <= 1:
                return kind, self.screen_image(photo.rgb)
            kind = ContentKind.VIDEO
        return kind, self.screen_video(path)

    def screen_video(self, path: Path) -> ScreenResult:
        """Screen sampled frames; the result keeps the best match per template and frame count."""
        best_score = 0.0
        frames = faces = 0
        best: dict[str, FaceMatch] = {}
        for sample in iter_video_frames(path, seconds_per_hash=VIDEO_SECONDS_PER_SAMPLE):
            if frames >= MAX_VIDEO_SAMPLES:
                break
            frames += 1
            result = self.screen_image(sample.rgb, frame=sample.index, timestamp=sample.timestamp)
            best_score = max(best_score, result.intimate_score)
            faces += result.faces_compared
            for match in result.matches:
                current = best.get(match.template_id)
                if current is None or match.similarity > current.similarity:
                    best[match.template_id] = match
        matches = sorted(best.values(), key=lambda match: match.similarity, reverse=True)
        intimate = best_score >= self.intimate_threshold
        return ScreenResult(best_score, intimate, faces, matches, frames_screened=frames)


def _detect_in_any_orientation(
    models: FaceModels, image: RGBImage
) -> tuple[int, RGBImage, list[DetectedFace]]:
    """Faces in the orientation where the detector is most confident (uploads get turned).

    Only ever called on intimate content. YuNet still "finds" a face turned by 90 or 180 degrees
    but with landmarks that make the embedding useless (similarity ~0 to the same person), and
    with lower confidence than the upright face (astronaut: 0.94 upright vs <= 0.87 turned). So:
    keep the image as it is when its best face is confident (>= 0.9, the common case, one
    detection); otherwise try the three quarter turns and keep the most confident orientation.
    Embedding only that orientation keeps the false-match rate of one comparison per face.
    """
    faces = models.detector.detect(image)
    if faces and faces[0].confidence >= UPRIGHT_CONFIDENCE:
        return 0, image, faces
    best: tuple[int, RGBImage, list[DetectedFace]] = (0, image, faces)
    for quarter in (1, 2, 3):
        view = np.ascontiguousarray(np.rot90(image, quarter))
        turned = models.detector.detect(view)
        if turned and (not best[2] or turned[0].confidence > best[2][0].confidence):
            best = (quarter * 90, view, turned)
    return best
